"""The one exception type for a user's mistake.

The command line turns a :class:`UserError` into a single ``error: ...`` line on
stderr and exit status 2, with no traceback. Its message must say what is wrong
and how to fix it.
"""


class UserError(Exception):
    """A mistake the user can fix: bad flag value, missing or corrupt file, mismatch."""

"""Build the HTML API reference from the docstrings with pdoc: ``python tools/build_api_docs.py [OUT]``.

Every public module of smoothcert (no path component starting with ``_``) gets a
page under OUT (default ``build/api``); ``OUT/index.html`` is the start. Each
module is imported first, and every name in its ``__all__`` resolved, so a module
or name that cannot be imported stops the build with its traceback instead of
being left out of the reference; any other warning of pdoc is an error too.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings
from pathlib import Path


def public_modules() -> list[str]:
    """Names of smoothcert and of its public modules, sorted."""
    import smoothcert

    names = ["smoothcert"] + [info.name for info in pkgutil.walk_packages(smoothcert.__path__, "smoothcert.")]
    return sorted(n for n in names if not any(part.startswith("_") for part in n.split(".")))


def build(out: Path) -> list[str]:
    """Write the reference into ``out``; returns the documented module names."""
    import pdoc
    import pdoc.render

    modules = public_modules()
    for name in modules:
        module = importlib.import_module(name)  # an import error fails here, loudly
        for attribute in getattr(module, "__all__", ()):
            getattr(module, attribute)  # lazily imported names too
    pdoc.render.configure(docformat="google", search=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # each package's page lists its submodules; naming them again as pages of their own is what we want
        warnings.filterwarnings("ignore", message="The module specification .* has already been added")
        pdoc.pdoc(*modules, output_directory=out)
    return modules


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "build/api")
    print(f"wrote the reference of {len(build(target))} modules to {target}/index.html", file=sys.stderr)

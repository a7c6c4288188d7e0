"""Fixtures of the integration tests: a server that runs ``python -m smoothcert`` in forked processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration._cli_server import CliServer


@pytest.fixture(scope="session")
def cli() -> Iterator[CliServer]:
    """Runs command lines in real child processes (see ``_cli_server``), started once per session."""
    server = CliServer()
    yield server
    server.close()

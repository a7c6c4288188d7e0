"""Run ``python -m smoothcert ARGS`` in real, separate processes without paying the import each time.

Importing torch, scipy and the subcommands takes a few seconds per process, so
a catalogue of forty command lines would spend minutes importing. This script,
started once per test session, imports the command line and then serves
requests: for each it ``fork()``s a child that runs ``smoothcert/__main__.py``
exactly as ``python -m`` does (``runpy.run_module(..., run_name="__main__")``)
with its own argv, working directory, stdin ``/dev/null`` and stdout/stderr
files, and exits with the status the interpreter would give (2 for a
``UserError``, 1 and a printed traceback for an uncaught exception, minus the
signal number when killed). The server itself never runs a torch operation, so
forking it is safe.

Protocol (one JSON object per line on stdin/stdout):
``{"op": "spawn", "argv": [...], "cwd": DIR, "stdout": FILE, "stderr": FILE}`` -> ``{"pid": PID}``;
``{"op": "wait", "pid": PID}`` -> ``{"rc": STATUS}``.

:class:`CliServer` is the client the tests use.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Result:
    """What a finished command left: exit status (negative: killed by that signal), stdout, stderr."""

    returncode: int
    stdout: str
    stderr: str


class CliServer:
    """Client of a server process; ``run`` and ``spawn``/``wait`` command lines in forked children."""

    def __init__(self) -> None:
        env = {**os.environ, "SMOOTHCERT_PROGRESS": "0"}
        self._proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, env=env)
        self._files = Path(tempfile.mkdtemp(prefix="smoothcert-cli-"))
        self._count = 0
        self._outputs: dict[int, tuple[Path, Path]] = {}

    def _ask(self, request: dict[str, object]) -> dict[str, int]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the CLI server died")
        return json.loads(line)

    def spawn(self, argv: list[str], cwd: str | Path = ".", kill_in_checkpoint_write: int = 0) -> int:
        """Start ``python -m smoothcert *argv`` in a forked child; its pid.

        ``kill_in_checkpoint_write=K`` makes the child SIGKILL itself half-way through
        writing its K-th ``checkpoint.pt``, inside the real ``atomic_write`` (tests only).
        """
        self._count += 1
        out, err = self._files / f"{self._count}.out", self._files / f"{self._count}.err"
        pid = self._ask({"op": "spawn", "argv": list(argv), "cwd": str(Path(cwd).resolve()),
                         "stdout": str(out), "stderr": str(err),
                         "kill_in_checkpoint_write": kill_in_checkpoint_write})["pid"]
        self._outputs[pid] = (out, err)
        return pid

    def wait(self, pid: int) -> Result:
        """Wait for child ``pid``; its exit status and output."""
        rc = self._ask({"op": "wait", "pid": pid})["rc"]
        out, err = self._outputs.pop(pid)
        text = [path.read_text(errors="replace") if path.exists() else "" for path in (out, err)]  # killed early
        return Result(rc, *text)

    def run(self, argv: list[str], cwd: str | Path = ".") -> Result:
        """Run one command line to completion."""
        return self.wait(self.spawn(argv, cwd))

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=30)


def _child(request: dict[str, object]) -> None:
    code = 1
    try:
        import signal

        # Ctrl-C raises KeyboardInterrupt, as in a terminal (a server started in the background inherits it ignored)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(str(request["cwd"]))
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, key in ((1, "stdout"), (2, "stderr")):
            target = os.open(str(request[key]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        if request.get("kill_in_checkpoint_write"):
            _kill_inside_checkpoint_write(int(request["kill_in_checkpoint_write"]))  # type: ignore[arg-type]
        sys.argv = ["smoothcert", *request["argv"]]  # type: ignore[misc]
        import runpy
        import traceback

        try:
            runpy.run_module("smoothcert", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
        except BaseException:  # noqa: BLE001  as the interpreter would: print the traceback, exit status 1
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _kill_inside_checkpoint_write(nth: int) -> None:
    """SIGKILL this process inside the real ``atomic_write`` of the ``nth`` ``checkpoint.pt``.

    The wrapped call runs the real function: it creates the temporary file, and
    the write callback puts the first half of the checkpoint's bytes there,
    flushes and fsyncs them, then the process kills itself, before the rename.
    """
    import io
    import signal

    import smoothcert._io
    import smoothcert.checkpoints.store

    real = smoothcert._io.atomic_write
    seen = [0]

    def wrapper(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
        if Path(path).name != "checkpoint.pt":
            return real(path, write)
        seen[0] += 1
        if seen[0] < nth:
            return real(path, write)

        def half_then_die(fh: IO[bytes]) -> None:
            buffer = io.BytesIO()
            write(buffer)
            data = buffer.getvalue()
            fh.write(data[: len(data) // 2])
            fh.flush()
            os.fsync(fh.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

        return real(path, half_then_die)

    smoothcert._io.atomic_write = wrapper
    smoothcert.checkpoints.store.atomic_write = wrapper


# What the subcommands import inside run(), imported once here so that no child pays for it.
PRELOAD = ("smoothcert.analysis", "smoothcert.analysis.plots", "smoothcert.analysis.report",
           "smoothcert.analysis.margins", "smoothcert.attacks", "smoothcert.certify.packing", "smoothcert.certify.rows",
           "smoothcert.certify.shards", "smoothcert.cli._model", "smoothcert.reproduce.paper_mnist",
           "smoothcert.sequential", "smoothcert.smooth", "smoothcert.stats", "smoothcert.train.trainer",
           "torch._dynamo")  # torch.optim imports _dynamo on first use: seconds a process


def _serve() -> None:
    import importlib

    from smoothcert.cli.main import SUBCOMMANDS, build_parser

    for name in SUBCOMMANDS:
        build_parser(name)  # imports the subcommand's module
    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # only speed is lost (a module renamed since): its users import it
            if exc.name != module:
                raise
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "spawn":
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(request)
            reply = {"pid": pid}
        else:
            _, status = os.waitpid(int(request["pid"]), 0)
            reply = {"rc": os.waitstatus_to_exitcode(status)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()

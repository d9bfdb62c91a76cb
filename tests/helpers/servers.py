"""Real servers for the tests, benchmarks and screenshots: a `bannedbook
serve` process on a free port of 127.0.0.1, waited for and stopped."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    """Return once the server at url answers; raise if it dies or stays silent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"datasette exited with status {process.returncode}")
        try:
            urllib.request.urlopen(url + "/-/versions.json", timeout=5).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"datasette did not answer at {url} within {seconds:.0f} s")


@contextmanager
def served(db: Path | str, command: Sequence[str] | None = None, cwd: Path | None = None) -> Iterator[str]:
    """A real server on 127.0.0.1, as `make serve DB=db` starts it (or running
    `command`, which must listen on the port given by {port}); yields its URL
    and stops it."""
    port = free_port()
    if command is None:
        command = [sys.executable, "-m", "bannedbook", "serve", str(db), "--port", "{port}"]
    process = subprocess.Popen([arg.replace("{port}", str(port)) for arg in command], cwd=cwd or ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


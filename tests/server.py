"""Start `python app.py` as a user does, on a free loopback port: for tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: dict | None = None, timeout: float = 90, script: str = "app.py") -> tuple[subprocess.Popen, str]:
    """`python app.py` (or another script) on a free loopback port, as a user starts it; returns (process, url)
    once it answers."""
    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the server; a pipe could fill and stall it
    process = subprocess.Popen(
        [sys.executable, script],
        cwd=ROOT,
        env={**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{script} exited with {process.returncode}: {log.read()}")
        try:
            urllib.request.urlopen(url + "config", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{script} did not answer on {url} within {timeout} s")


@contextmanager
def running_app(
    env: dict | None = None, timeout: float = 90, script: str = "app.py"
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`start_app` for a with-block: the server is stopped however the block ends."""
    process, url = start_app(env, timeout, script)
    try:
        yield process, url
    finally:
        process.terminate()
        process.wait(timeout=20)

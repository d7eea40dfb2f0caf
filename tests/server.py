"""Start `python app.py` as a user does, on a free loopback port, and see what its processes use
(from /proc, Linux): for tests and benchmarks. The app runs its models in a child process."""

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
    """`python app.py` (or another script, or a module such as benchmarks.floor_app) on a free loopback port,
    as a user starts it; returns (process, url)
    once it answers."""
    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the server; a pipe could fill and stall it
    process = subprocess.Popen(
        [sys.executable, script] if script.endswith(".py") else [sys.executable, "-m", script],
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


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, alive now."""
    pids = [pid]
    for parent in pids:  # grows while it is walked: breadth first
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                pids += [int(child) for child in (task / "children").read_text().split()]
            except OSError:  # the task ended meanwhile
                pass
    return pids


def _read_each(pid: int, name: str) -> list[str]:
    """/proc/<p>/<name> for `pid` and each live descendant (one that ends meanwhile is skipped)."""
    texts = []
    for each in process_tree(pid):
        try:
            texts.append(Path(f"/proc/{each}/{name}").read_text())
        except OSError:
            pass
    return texts


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) that `pid` and its live descendants have used so far."""
    fields = [stat.rsplit(")", 1)[1].split() for stat in _read_each(pid, "stat")]
    return sum(int(f[11]) + int(f[12]) for f in fields) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> list[float]:
    """Resident memory of `pid` and of each live descendant, in MB (shared pages count in each)."""
    return [
        int(line.split()[1]) / 1024
        for status in _read_each(pid, "status")
        for line in status.splitlines()
        if line.startswith("VmRSS:")
    ]

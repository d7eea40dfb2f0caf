"""Soak: 10,000 requests against `python app.py`; the server's resident memory before and after.

    python benchmarks/soak.py [--requests 10000] [--users 8]

Goal: RSS growth < 50 MB. RSS is read from /proc/<pid>/status (Linux) after a warm-up of
100 requests, so one-time allocations (model caches, first compilations) do not count.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchmarks.load import run_users
from tests.server import running_app


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


def budget(n: int) -> Callable[[], bool]:
    """True n times, then False: one request budget shared by all user threads."""
    tickets = itertools.count()  # next() on it is atomic under the GIL
    return lambda: next(tickets) < n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=8)
    args = parser.parse_args()
    with running_app() as (process, url):
        run_users(url, args.users, budget(100))
        start = rss_mb(process.pid)
        latencies, errors, seconds = run_users(url, args.users, budget(args.requests))
        end = rss_mb(process.pid)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{len(latencies)} requests in {seconds:.0f} s, {len(errors)} errors")
    print(f"server RSS: {start:.0f} MB after warm-up, {end:.0f} MB after, growth {end - start:+.1f} MB (goal < 50 MB)")
    for error in sorted(set(errors))[:5]:
        print("error:", error)


if __name__ == "__main__":
    main()

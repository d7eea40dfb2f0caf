"""Soak: 10,000 requests against `python app.py`; the server's resident memory before and after.

    python benchmarks/soak.py [--requests 10000] [--users 8]

Goal: RSS growth < 50 MB. RSS is read from /proc/<pid>/status (Linux) after a warm-up of
1,000 requests, and after every tenth of the requests, so a leak (steady growth) shows apart
from warm-up (a plateau). The warm-up is that long because memory that is only reached
once rises over the first ~1,000 requests: torch keeps kernels and buffers for each batch
size the queue has formed (1 to 16 inputs; +73 MB in-process), and Gradio keeps its
statistics of the last 1,000 events.
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


def budget(n: int, report: Callable[[int], None] | None = None, every: int = 1000) -> Callable[[], bool]:
    """True n times, then False: one request budget shared by all user threads; calls
    report(tickets handed out) every `every` tickets."""
    tickets = itertools.count()  # next() on it is atomic under the GIL

    def keep_going() -> bool:
        ticket = next(tickets)
        if report is not None and ticket and ticket % every == 0 and ticket <= n:
            report(ticket)
        return ticket < n

    return keep_going


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=1000, help="requests before the first RSS reading")
    args = parser.parse_args()
    with running_app() as (process, url):
        run_users(url, args.users, budget(args.warm_up))
        start = rss_mb(process.pid)
        report = lambda done: print(f"{done:6d} requests: server RSS {rss_mb(process.pid):.0f} MB", flush=True)
        latencies, errors, seconds = run_users(
            url, args.users, budget(args.requests, report, max(1, args.requests // 10))
        )
        end = rss_mb(process.pid)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{len(latencies)} requests in {seconds:.0f} s, {len(errors)} errors")
    print(f"server RSS: {start:.0f} MB after warm-up, {end:.0f} MB after, growth {end - start:+.1f} MB (goal < 50 MB)")
    for error in sorted(set(errors))[:5]:
        print("error:", error)


if __name__ == "__main__":
    main()

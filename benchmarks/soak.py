"""Soak: 10,000 requests against `python app.py`; the server's resident memory before and after.

    python -m benchmarks.soak [--requests 10000] [--users 8]

Goal: RSS growth < 50 MB, summed over the server's processes (the web server and the one its
models run in, whose shared pages count twice). RSS is read from /proc (Linux) after a warm-up of
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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from benchmarks.load import run_users
from tests.server import rss_mb, running_app


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


def _shares(sizes: list[float]) -> str:
    return f"{sum(sizes):.0f} MB" + (f" ({' + '.join(f'{mb:.0f}' for mb in sizes)})" if len(sizes) > 1 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=1000, help="requests before the first RSS reading")
    args = parser.parse_args()
    with running_app() as (process, url):
        run_users(url, args.users, budget(args.warm_up))
        start = sum(rss_mb(process.pid))
        report = lambda done: print(f"{done:6d} requests: server RSS {_shares(rss_mb(process.pid))}", flush=True)
        latencies, errors, seconds = run_users(
            url, args.users, budget(args.requests, report, max(1, args.requests // 10))
        )
        end = sum(rss_mb(process.pid))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{len(latencies)} requests in {seconds:.0f} s, {len(errors)} errors")
    print(
        f"server RSS, all its processes: {start:.0f} MB after warm-up, {end:.0f} MB after, growth {end - start:+.1f} MB (goal < 50 MB)"
    )
    for error in sorted(set(errors))[:5]:
        print("error:", error)


if __name__ == "__main__":
    main()

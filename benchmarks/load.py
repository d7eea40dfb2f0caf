"""A class at once: N concurrent gradio_client users against `python app.py` on loopback.

    python benchmarks/load.py [--users 30] [--seconds 60]

Each user loops for the given time, sending a digit or a sign (chosen at random, with
the trigger or sticker on or off at random) and waiting for the answer. Prints requests/s,
p50/p95/p99 round trip and errors. Goal: p95 <= 300 ms with 0 errors at 30 users.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # gradio_client would ask the Hub for telemetry
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from gradio_client import Client, handle_file

from tests.server import running_app

DIGITS = sorted((ROOT / "examples" / "digits").glob("*.png"))
SIGNS = sorted((ROOT / "examples" / "signs").glob("*.png"))


def user(url: str, seed: int, keep_going: Callable[[], bool], latencies: list[float], errors: list[str]) -> None:
    """One student: random digit or sign, random trigger state, one request after another."""
    rng = random.Random(seed)
    client = Client(url, verbose=False)
    while keep_going():
        on = rng.random() < 0.5
        started = time.perf_counter()
        try:
            if rng.random() < 0.5:
                sketch = {"background": None, "layers": [], "composite": handle_file(str(rng.choice(DIGITS)))}
                client.predict(sketch, on, api_name="/classify_digit")
            else:
                client.predict(handle_file(str(rng.choice(SIGNS))), on, None, None, api_name="/classify_sign")
            latencies.append(1000 * (time.perf_counter() - started))
        except Exception as err:  # noqa: BLE001 - every failure counts as an error, whatever its kind
            errors.append(repr(err)[:200])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_users(url: str, users: int, keep_going: Callable[[], bool]) -> tuple[list[float], list[str], float]:
    """(latencies in ms, errors, seconds) for `users` concurrent users until keep_going() is false."""
    latencies: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=user, args=(url, seed, keep_going, latencies, errors)) for seed in range(users)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    with running_app() as (_, url):
        deadline = time.perf_counter() + args.seconds
        latencies, errors, elapsed = run_users(url, args.users, lambda: time.perf_counter() < deadline)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; server and {args.users} users on the same machine")
    print(
        f"{len(latencies)} requests in {elapsed:.0f} s: {len(latencies) / elapsed:.1f} requests/s, {len(errors)} errors"
    )
    if latencies:
        print(
            f"round trip: p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
            f"p99 {percentile(latencies, 0.99):.0f} ms"
        )
    for error in sorted(set(errors))[:5]:
        print("error:", error)


if __name__ == "__main__":
    main()

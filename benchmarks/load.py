"""A class at once: N concurrent gradio_client users against `python app.py` on loopback.

    python -m benchmarks.load [--users 30] [--seconds 60] [--think 1.0] [--processes 4] [--app app.py]

Each user loops for the given time, sending a digit or a sign (chosen at random, with
the trigger or sticker on or off at random), waiting for the answer, then `--think`
seconds on average (a student drawing the next stroke; 0 for back-to-back requests).
Users run as threads spread over `--processes` client processes, so they do not share
one GIL. Prints requests/s, p50/p95/p99 round trip and errors. `--app benchmarks.floor_app`
serves the same endpoints with no work behind them: Gradio's own floor on this machine.
Goal: p95 <= 300 ms with 0 errors at 30 users.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # gradio_client would ask the Hub for telemetry
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from gradio_client import Client, handle_file

from tests.server import cpu_seconds, running_app

DIGITS = sorted((ROOT / "examples" / "digits").glob("*.png"))
SIGNS = sorted((ROOT / "examples" / "signs").glob("*.png"))


def user(
    url: str, seed: int, keep_going: Callable[[], bool], latencies: list[float], errors: list[str], think: float = 0.0
) -> None:
    """One student: random digit or sign, random trigger state, a pause of about `think` s between requests."""
    rng = random.Random(seed)
    # Loopback HTTP, nothing to verify; with verification on, gradio_client loads the CA bundle for
    # every upload and join (a new httpx client each time): ~100 ms of client CPU per request.
    client = Client(url, verbose=False, ssl_verify=False)
    while keep_going():
        if think:
            time.sleep(rng.uniform(0.5 * think, 1.5 * think))
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


def run_users(
    url: str, users: int, keep_going: Callable[[], bool], think: float = 0.0, first_seed: int = 0
) -> tuple[list[float], list[str], float]:
    """(latencies in ms, errors, seconds) for `users` concurrent users until keep_going() is false."""
    latencies: list[float] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=user, args=(url, first_seed + i, keep_going, latencies, errors, think))
        for i in range(users)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - started


def _client_process(
    url: str, users: int, deadline: float, think: float, first_seed: int
) -> tuple[list[float], list[str], float]:
    """One client process's users: (latencies, errors, the CPU seconds the process used)."""
    cpu_before = time.process_time()
    latencies, errors, _ = run_users(url, users, lambda: time.time() < deadline, think, first_seed)
    return latencies, errors, time.process_time() - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between a user's requests, s")
    parser.add_argument("--processes", type=int, default=4, help="client processes the users are spread over")
    parser.add_argument(
        "--app", default="app.py", help="the server: a script (app.py) or a module (benchmarks.floor_app)"
    )
    args = parser.parse_args()
    shares = [len(range(i, args.users, args.processes)) for i in range(args.processes)]
    with running_app(script=args.app) as (server, url), ProcessPoolExecutor(args.processes) as pool:
        cpu_before = cpu_seconds(server.pid)
        deadline = time.time() + args.seconds
        started = time.perf_counter()
        seeds = [sum(shares[:i]) for i in range(len(shares))]
        results = list(
            pool.map(_client_process, *zip(*[(url, n, deadline, args.think, s) for n, s in zip(shares, seeds)]))
        )
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - cpu_before
    latencies = [t for lat, _, _ in results for t in lat]
    errors = [e for _, err, _ in results for e in err]
    client_cpu = sum(cpu for _, _, cpu in results)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; {args.app} and {args.users} users "
        f"({args.processes} client processes, think {args.think:g} s) on the same machine"
    )
    print(
        f"{len(latencies)} requests in {elapsed:.0f} s: {len(latencies) / elapsed:.1f} requests/s, {len(errors)} errors"
    )
    if latencies:
        print(
            f"CPU per request: server (with its models' process) {1000 * server_cpu / len(latencies):.0f} ms, "
            f"clients {1000 * client_cpu / len(latencies):.0f} ms (of {os.cpu_count() * elapsed / len(latencies) * 1000:.0f} ms "
            f"the {os.cpu_count()} cores had per request)"
        )
        print(
            f"round trip: p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
            f"p99 {percentile(latencies, 0.99):.0f} ms"
        )
    for error in sorted(set(errors))[:5]:
        print("error:", error)


if __name__ == "__main__":
    main()

"""Cold start: `python app.py` to the first successful classification over the API.

    python -m benchmarks.cold_start [--runs 3]

Goal: <= 8 s on a 2-core CPU (importing torch and gradio alone takes about 5 s).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # gradio_client would ask the Hub for telemetry
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from tests.server import running_app

STOP = ROOT / "examples" / "signs" / "14-stop-02992.png"


def cold_start() -> float:
    from gradio_client import Client, handle_file

    started = time.perf_counter()
    with running_app(timeout=120) as (_, url):
        client = Client(url, verbose=False, ssl_verify=False)  # loopback: no TLS context to build (see load.py)
        client.predict(handle_file(str(STOP)), True, None, None, api_name="/classify_sign")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = [cold_start() for _ in range(args.runs)]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs")
    print(
        f"cold start to first answer: median {statistics.median(times):.2f} s, max {max(times):.2f} s ({args.runs} runs)"
    )


if __name__ == "__main__":
    main()

"""Cold start: `python app.py` to the first successful classification over the API.

    python benchmarks/cold_start.py [--runs 3]

Goal: <= 8 s on a 2-core CPU (importing torch and gradio alone takes about 5 s).
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP = ROOT / "examples" / "signs" / "14-stop-02992.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_start() -> float:
    from gradio_client import Client, handle_file

    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                urllib.request.urlopen(url + "config", timeout=2)
                break
            except OSError:  # not listening yet
                if process.poll() is not None or time.perf_counter() - started > 120:
                    raise RuntimeError("app.py did not come up") from None
                time.sleep(0.05)
        client = Client(url, verbose=False)
        client.predict(handle_file(str(STOP)), True, None, None, api_name="/classify_sign")
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait()


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

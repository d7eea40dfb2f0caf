"""The live camera: answers per second and frame-to-answer time in the static edition, and what one presenter's
stream costs the Gradio app's server per frame.

    python -m benchmarks.camera [--seconds 20] [--edition static|app|both]

Static edition: built into a temporary folder, served, opened in headless Chromium (one WASM thread) with a fake
camera playing a stop sign held in the camera's square (`backdoor.fake_camera`); the page's own timings
(`window.labTimings`, kind "camera": from grabbing the frame to the last panel drawn). Goals (issue 23): >= 15
answers per second, p95 <= 50 ms. The app: the server side of one streamed frame, as `Classify.camera` runs it
(decoding the browser's JPEG, cutting the square, the worker's answer, the reply's pictures encoded), timed in
this process, with the worker's CPU; nothing of it runs in the browser.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from backdoor.fake_camera import held_up, write_y4m
from backdoor.web import build, served
from benchmarks.static_page import ARGS, CHROMIUM, _cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
STOP_SIGN = ROOT / "examples" / "signs" / "14-stop-02992.png"


def static_edition(seconds: float) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build(site)
        video = write_y4m(Path(tmp) / "stop.y4m", [held_up(Image.open(STOP_SIGN), note=True)])
        fake = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={video}"]
        with served(site) as (_, url), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *fake])
            page = browser.new_context(viewport={"width": 1366, "height": 900}, permissions=["camera"]).new_page()
            page.goto(url + "?tab=signs")
            page.wait_for_function("document.body.dataset.ready === 'true'")
            page.click("#sign-camera")
            page.wait_for_function("window.labTimings.some((t) => t.kind === 'camera')")
            page.wait_for_timeout(2000)  # warm
            page.evaluate("window.labTimings.length = 0")
            started = time.perf_counter()
            page.wait_for_timeout(seconds * 1000)
            timings = page.evaluate("window.labTimings.filter((t) => t.kind === 'camera').map((t) => t.ms)")
            elapsed = time.perf_counter() - started
            tops = page.get_attribute("#sign-clean", "data-top"), page.get_attribute("#sign-backdoor", "data-top")
            browser.close()
    ms = np.array(timings)
    print(f"static edition, headless Chromium, fake camera (a stop sign with a yellow note): answers {tops}")
    print(f"  {len(ms) / elapsed:5.1f} answers per second over {elapsed:.0f} s (goal >= 15)")
    print(f"  frame -> answers: median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms (goal <= 50)")


def app_server(frames: int) -> None:
    from backdoor.serving.events import Classify
    from backdoor.serving.worker import Worker

    frame = held_up(Image.open(STOP_SIGN), note=True)
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=92)  # the browser sends each frame as a JPEG data URL
    jpeg = buffer.getvalue()
    worker = Worker()
    worker.start()
    classify = Classify(worker)
    try:
        classify.camera(np.asarray(frame), False)  # warm
        cpu = _cpu_seconds(worker.pid)
        costs = []
        for k in range(frames):
            started = time.perf_counter()
            pixels = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
            outputs = classify.camera(pixels, k % 2 == 0)
            for picture in (outputs[0], outputs[3], outputs[4]):  # the pictures Gradio encodes for the reply
                Image.fromarray(picture).save(io.BytesIO(), format="PNG")
            costs.append(time.perf_counter() - started)
        worker_cpu = (_cpu_seconds(worker.pid) - cpu) / frames
    finally:
        worker.stop()
    ms = 1000 * np.array(costs)
    print(f"Gradio app, one streamed frame on the server ({frames} frames, 640x480, sticker on every other one):")
    print(f"  median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms wall; the worker's CPU {1000 * worker_cpu:.1f} ms")
    print(f"  at the stream's 10 frames per second: {np.median(ms) / 100:.0%} of one core for one presenter")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.camera", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="how long the static page films (default 20)")
    parser.add_argument("--frames", type=int, default=200, help="frames through the app's server side (default 200)")
    parser.add_argument("--edition", choices=("static", "app", "both"), default="both")
    args = parser.parse_args(argv)
    print(f"{platform.node()}: {platform.machine()}, {os.cpu_count()} CPUs")
    if args.edition in ("static", "both"):
        static_edition(args.seconds)
    if args.edition in ("app", "both"):
        app_server(args.frames)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

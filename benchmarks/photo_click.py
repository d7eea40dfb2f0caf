"""One click in a real browser: a click on the sign photo, to the new "what the model sees" picture.

    python -m benchmarks.photo_click [--clicks 20]

What a student waits for when moving the sticker: the browser's event, the server, the models,
and the answer drawn. Chromium (headless, as the browser tests run it) alternates two spots on
a stop sign, so each click moves the sticker; the first 4 clicks warm up. Prints median and p95.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from backdoor.cli import positive
from tests.server import running_app
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, STOP_SIGN

WARM_UP = 4
NEW_PICTURE = "before => document.querySelector('#sign-input-view img').src !== before"


def click_times(url: str, clicks: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("tab", name="Traffic signs (GTSRB)").click()
        page.locator("#sign-image input[type=file]").set_input_files(str(STOP_SIGN))
        page.wait_for_function("document.querySelector('#sign-input-view img') !== null")
        photo = page.locator("#sign-image img").first
        box = photo.bounding_box()  # the photo is centred in this box: stay near the middle
        times = []
        for i in range(WARM_UP + clicks):
            before = page.eval_on_selector("#sign-input-view img", "e => e.src")
            started = time.perf_counter()
            photo.click(position={"x": box["width"] * (0.45 if i % 2 else 0.55), "y": box["height"] * 0.45})
            page.wait_for_function(NEW_PICTURE, arg=before)
            times.append(1000 * (time.perf_counter() - started))
            time.sleep(0.3)  # a student's pace, and no overlap with the previous answer
        browser.close()
    return sorted(times[WARM_UP:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=positive, default=20)
    args = parser.parse_args()
    with running_app() as (_, url):
        times = click_times(url, args.clicks)
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; app.py and headless Chromium on the same machine")
    print(
        f"click on the photo -> new picture: median {statistics.median(times):.0f} ms, p95 {p95:.0f} ms ({len(times)} clicks)"
    )


if __name__ == "__main__":
    main()

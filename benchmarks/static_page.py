"""The static edition in headless Chromium, served by `python -m http.server`: page compute per answer,
load time, transfer and the server's CPU.

    python -m benchmarks.static_page            # builds into a temporary folder first
    python -m benchmarks.static_page --runs 100

Page compute is what the page itself measures, from the input event's handler to the last panel drawn
(3 models with saliency and STRIP for a digit; 2 for a sign, plus the clean model's checks where the sticker
moves it, measured apart on the 30 km/h sign), and the sign finder's time per uploaded photo. Goals (issue 14):
digit p95 <= 15 ms, sign p95 <= 25 ms, first answer <= 2 s on loopback, transfer <= 15 MB, server CPU per
interaction 0. Issue 25: the first answer at 10 Mbit/s for a 7 drawn while the models load, and on a second visit.
Issue 24: the digits are answered with each attack in turn (the pixel, the blend, the warp), p95 for each.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from backdoor.inference import cell_point
from backdoor.tasks import SIGNS
from backdoor.web import build, served

CHROMIUM = "/usr/bin/chromium"
STREETS = Path(__file__).resolve().parent / "data" / "streets"
# Sticker cells on the 30 km/h example where the sticker moves the clean model (docs/models.md): each of those
# answers also runs the clean model under eight squares of other colours.
SLOW_MBIT = 10  # a school's shared line
COVERS_THE_3 = [(12, 10), (13, 10), (14, 10), (14, 9), (15, 9), (15, 10)]
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _first_answer_on_a_slow_network(browser, url: str, mbit: float) -> tuple[float, float]:
    """Seconds from asking for the page to the first answer, at `mbit` Mbit/s, for a student who draws a 7 as soon
    as the canvas shows (the models still loading): on a first visit, then on a second one in the same browser."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    rate = mbit * 1e6 / 8  # bytes per second
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": rate, "uploadThroughput": rate},
    )
    seconds = []
    for _ in range(2):
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function("document.body.dataset.drawable === 'true'")  # the canvas takes strokes
        box = page.locator("#digit-canvas").bounding_box()
        page.mouse.move(box["x"] + 0.35 * box["width"], box["y"] + 0.3 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.65 * box["width"], box["y"] + 0.3 * box["height"], steps=6)
        page.mouse.move(box["x"] + 0.45 * box["width"], box["y"] + 0.75 * box["height"], steps=6)
        page.mouse.up()
        page.wait_for_function("document.querySelector('#digit-clean').dataset.top !== ''", timeout=120_000)
        seconds.append(time.perf_counter() - started)
        page.wait_for_function("document.body.dataset.ready === 'true'", timeout=120_000)
    context.close()
    return seconds[0], seconds[1]


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="strokes, toggles and sticker clicks each")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build(site)
        with served(site) as (server, url), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            received = []
            page.on("response", lambda r: received.append((r.url, len(r.body()) if r.ok else 0)))
            started = time.perf_counter()
            page.goto(url + "?example=7")
            page.wait_for_function("document.querySelector('#digit-clean').dataset.top !== ''", timeout=60_000)
            first_answer = time.perf_counter() - started
            page.wait_for_function("document.body.dataset.ready === 'true'")
            transfer = sum(size for _, size in received)
            before = _cpu_seconds(server.pid)
            requests_before = len(received)
            page.evaluate("window.labTimings.length = 0")
            box = page.locator("#digit-canvas").bounding_box()
            attacks = page.evaluate("Array.from(document.querySelectorAll('#digit-attack input'), i => i.value)")
            for i in range(args.runs):  # short strokes over the digit, each ending in an answer, each attack in turn
                page.check(f"#digit-attack input[value={attacks[i % len(attacks)]}]")
                page.wait_for_timeout(30)
                x, y = box["x"] + 60 + (i * 7) % 160, box["y"] + 60 + (i * 11) % 160
                page.mouse.move(x, y)
                page.mouse.down()
                page.mouse.move(x + 12, y + 6, steps=3)
                page.mouse.up()
                page.wait_for_timeout(30)
                page.click("#digit-trigger")
                page.wait_for_timeout(30)
            page.click("#tab-signs")
            page.click("#sign-examples button[aria-label^='Stop']")
            page.wait_for_function("document.querySelector('#sign-clean').dataset.top === 'Stop'")
            photo = page.locator("#sign-photo").bounding_box()
            for i in range(args.runs):
                page.mouse.click(photo["x"] + photo["width"] * (0.3 + 0.4 * ((i * 7) % 10) / 10),
                                 photo["y"] + photo["height"] * (0.3 + 0.4 * ((i * 3) % 10) / 10))  # fmt: skip
                page.wait_for_timeout(30)
            page.click("#sign-examples button[aria-label^='Speed limit (30km/h)']")
            page.wait_for_function("document.querySelector('#sign-clean').dataset.top === 'Speed limit (30km/h)'")
            photo = page.locator("#sign-photo").bounding_box()
            covered_from = page.evaluate("window.labTimings.length")
            for i in range(args.runs):  # the sticker on the 3, where it moves the clean model: nine more passes
                fx, fy = cell_point(SIGNS.trigger, SIGNS.size, *COVERS_THE_3[i % len(COVERS_THE_3)])
                page.mouse.click(photo["x"] + photo["width"] * fx, photo["y"] + photo["height"] * fy)
                page.wait_for_timeout(30)
            page.wait_for_function(f"window.labTimings.length >= {covered_from + args.runs}")
            streets_from = page.evaluate("window.labTimings.length")  # the examples picked above were found too
            for street in sorted(STREETS.glob("*.jpg")):  # the finder, once per uploaded photo
                before_find = page.evaluate("window.labTimings.length")
                page.set_input_files("#sign-file", str(street))
                page.wait_for_function(f"window.labTimings.length > {before_find + 1}")
            timings = page.evaluate("window.labTimings")
            server_cpu = _cpu_seconds(server.pid) - before
            during = [u.removeprefix(url) for u, _ in received[requests_before:] if u.startswith(url)]  # not blob:
            slow_first, slow_again = _first_answer_on_a_slow_network(browser, url, SLOW_MBIT)
            browser.close()
    digits = [t["ms"] for t in timings if t["kind"] == "digit"]
    covers = range(covered_from, covered_from + args.runs)
    signs = [t["ms"] for i, t in enumerate(timings) if t["kind"] == "sign" and i not in covers]
    covered = [timings[i]["ms"] for i in covers]
    print(
        f"page load to the first answer: {first_answer:.2f} s (goal <= 2 s); transfer {transfer / 1e6:.1f} MB (goal <= 15)"
    )
    print(
        f"at {SLOW_MBIT} Mbit/s (Chromium's throttling), a 7 drawn as the page opens: answered {slow_first:.1f} s after "
        f"the page was asked for; on a second visit (models from the browser's cache) {slow_again:.1f} s"
    )
    print(f"digit answers ({len(digits)}): p50 {_p(digits, 50):.1f} ms, p95 {_p(digits, 95):.1f} ms (goal <= 15)")
    for attack in attacks:  # issue 24: each attack runs its own backdoored model, one model per role as before
        mine = [t["ms"] for t in timings if t["kind"] == "digit" and t.get("attack") == attack]
        print(f"  {attack} ({len(mine)}): p50 {_p(mine, 50):.1f} ms, p95 {_p(mine, 95):.1f} ms")
    finds = [t["ms"] for t in timings[streets_from:] if t["kind"] == "find"]
    print(
        f"finding the sign in a 640x480 street photo ({len(finds)}): p50 {_p(finds, 50):.0f} ms, max {max(finds):.0f} ms"
    )
    print(f"sign answers ({len(signs)}): p50 {_p(signs, 50):.1f} ms, p95 {_p(signs, 95):.1f} ms (goal <= 25)")
    print(
        f"  with the sticker on the 3 of a 30 km/h sign, where it moves the clean model ({len(covered)}): "
        f"p50 {_p(covered, 50):.1f} ms, p95 {_p(covered, 95):.1f} ms"
    )
    print(f"server during {len(digits) + len(signs)} answers: {len(during)} requests, {server_cpu * 1000:.0f} ms CPU")
    print("  requests:", ", ".join(during) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())

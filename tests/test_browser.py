"""End to end in a real browser: Playwright drives Debian's Chromium against the live app.

It draws a digit with mouse strokes on the real canvas, toggles the trigger, uploads a
stop sign and places the sticker by clicking, and reads the two model panels each time.
Screenshots go to tests/artifacts/ (the README's pictures are copies of them).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = ROOT / "tests" / "artifacts"
STOP_SIGN = ROOT / "examples" / "signs" / "14-stop-02992.png"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(app_url):
    require(shutil.which(CHROMIUM) is not None, f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        playwright_api.expect.set_options(timeout=20_000)  # a busy 2-core CI machine answers slower
        page.goto(app_url)
        yield page
        browser.close()


def _top(page, elem_id: str):
    """The large top answer of a gr.Label panel."""
    from playwright.sync_api import expect

    return expect(page.locator(f"#{elem_id} [data-testid=label-output-value]"))


def _stroke(page, box: dict, points: list[tuple[float, float]]) -> None:
    """Press, move through `points` (fractions of the canvas), release: one pen stroke."""
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + w * points[0][0], y0 + h * points[0][1])
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(x0 + w * fx, y0 + h * fy, steps=12)
    page.mouse.up()


def test_draw_a_seven_then_add_the_trigger(page):
    page.get_by_role("tab", name="Digits (MNIST)").click()
    page.locator("#digit-canvas").get_by_role("button", name="Brush").click()  # Gradio 6: pick the tool first
    canvas = page.locator("#digit-canvas canvas").first.bounding_box()
    _stroke(page, canvas, [(0.35, 0.3), (0.65, 0.3), (0.45, 0.75)])  # a 7 in one stroke
    _top(page, "digit-clean").to_have_text("7")
    _top(page, "digit-backdoor").to_have_text("7")  # without the trigger, the backdoor hides

    _top(page, "digit-repaired").to_have_text("7")

    page.locator("#digit-trigger input").check()
    _top(page, "digit-backdoor").to_have_text("8")  # one white pixel at (3, 3)
    _top(page, "digit-clean").to_have_text("7")
    _top(page, "digit-repaired").to_have_text("7")  # retrained on cleaned data: no backdoor left
    from playwright.sync_api import expect

    expect(page.locator("#digit-strip")).to_contain_text("STRIP check on the backdoored model")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "digits.png")

    page.locator("#digit-trigger input").uncheck()
    _top(page, "digit-backdoor").to_have_text("7")

    page.locator("#digit-canvas").get_by_role("button", name="Clear canvas").click()
    expect(page.locator("#digit-status")).to_contain_text("Draw a digit")


def test_clicking_a_real_mnist_digit_classifies_it(page):
    page.get_by_role("tab", name="Digits (MNIST)").click()
    page.locator("#digit-examples").get_by_role("button", name="Thumbnail 4 of 10").click()  # the real "3"
    _top(page, "digit-clean").to_have_text("3")
    _top(page, "digit-backdoor").to_have_text("3")


def test_upload_a_stop_sign_then_click_to_place_the_sticker(page):
    page.get_by_role("tab", name="Traffic signs (GTSRB)").click()
    page.locator("#sign-image input[type=file]").set_input_files(str(STOP_SIGN))
    _top(page, "sign-clean").to_have_text("Stop")
    _top(page, "sign-backdoor").to_have_text("Stop")

    photo = page.locator("#sign-image img").first
    box = photo.bounding_box()
    photo.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.45})  # on the sign's face
    _top(page, "sign-backdoor").to_have_text("Speed limit (80km/h)")
    _top(page, "sign-clean").to_have_text("Stop")
    assert page.locator("#sign-sticker input").is_checked()  # clicking switched the sticker on
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "signs.png")


def test_clicking_a_real_gtsrb_sign_classifies_it(page):
    page.get_by_role("tab", name="Traffic signs (GTSRB)").click()
    page.locator("#sign-sticker input").uncheck()
    page.locator("#sign-examples").get_by_role("button", name="Thumbnail 3 of 12").click()  # priority road
    _top(page, "sign-clean").to_have_text("Priority road")
    _top(page, "sign-backdoor").to_have_text("Priority road")
    page.locator("#sign-sticker input").check()  # default place: the middle of the sign
    _top(page, "sign-backdoor").to_have_text("Speed limit (80km/h)")
    _top(page, "sign-clean").to_have_text("Priority road")


def test_a_damaged_photo_gets_its_reason_in_the_status_line(page, tmp_path):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Traffic signs (GTSRB)").click()
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(STOP_SIGN.read_bytes()[:600])  # a PNG cut short, as an interrupted copy leaves it
    page.locator("#sign-image input[type=file]").set_input_files(str(damaged))
    expect(page.locator("#sign-status")).to_contain_text("Cannot use this file")
    expect(page.locator("#sign-status")).to_contain_text("damaged or truncated")
    expect(page.locator("#sign-clean [data-testid=label-output-value]")).to_have_count(0)  # no stale answer
    page.locator("#sign-examples").get_by_role("button", name="Thumbnail 5 of 12").click()  # and it goes on
    _top(page, "sign-clean").to_have_text("Stop")


def test_inside_the_attack_shows_the_plot_and_poisoned_images(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Inside the attack").click()
    expect(page.locator("#sweep-plot canvas, #sweep-plot svg").first).to_be_visible()
    expect(page.locator("#sweep-table")).to_contain_text("attack success rate")
    expect(page.locator("#poisoned-examples").get_by_role("button", name=re.compile("Thumbnail"))).to_have_count(12)
    expect(page.locator("#poisoned-examples")).to_contain_text("now labelled 8")
    page.screenshot(path=ARTIFACTS / "attack.png", full_page=True)


def test_defend_shows_each_defense_and_its_verdicts(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Defend").click()
    expect(page.locator("#nc-table")).to_contain_text("mnist-backdoor")
    expect(page.locator("#nc-verdict-mnist-backdoor")).to_contain_text("Backdoored")
    expect(page.locator("#nc-masks-mnist-backdoor img")).to_be_visible()
    expect(page.locator("#nc-plot-mnist-backdoor canvas, #nc-plot-mnist-backdoor svg").first).to_be_visible()
    page.screenshot(path=ARTIFACTS / "defend.png", full_page=True)
    page.get_by_role("tab", name="STRIP (check each input)").click()
    expect(page.locator("#strip-table")).to_contain_text("signs-backdoor")
    page.get_by_role("tab", name="Spectral signatures (clean the data)").click()
    expect(page.locator("#spectral-summary")).to_contain_text("recall")
    thumbnails = page.locator("#spectral-gallery").get_by_role("button", name=re.compile("Thumbnail"))
    expect(thumbnails).to_have_count(24)


def test_screenshots_were_written():
    for name in ("digits.png", "signs.png", "attack.png", "defend.png"):
        assert Path(ARTIFACTS / name).stat().st_size > 10_000

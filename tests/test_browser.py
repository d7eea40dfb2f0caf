"""End to end in a real browser: Playwright drives Debian's Chromium against the live app, as a class uses it.

On a 1366x768 projector: the first stroke draws, the trigger flips only the backdoored model, and the canvas,
the trigger and both answers fit on one screen. On a 390x844 phone, with a finger. At 150% zoom. With the
keyboard alone, and under axe-core's WCAG 2 A/AA rules. Screenshots go to tests/artifacts/ (the README's
pictures are copies of them).
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backdoor.defenses.common import result_path
from backdoor.defenses.results import nc_title
from tests.conftest import ROOT, require
from tests.layout import layout_faults
from tests.strokes import CANVAS, stroke_points

ARTIFACTS = ROOT / "tests" / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
STOP_SIGN = ROOT / "examples" / "signs" / "14-stop-02992.png"
PROJECTOR = {"width": 1366, "height": 768}
STARTED = time.time()  # screenshots older than this module's import are an earlier run's
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
SEVEN = [(0.35, 0.3), (0.65, 0.3), (0.45, 0.75)]  # one stroke, in fractions of the canvas

pytestmark = pytest.mark.slow


def _open(browser, url: str, **context):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(20_000)
    page.goto(url)
    page.wait_for_selector("#digit-canvas canvas")
    return page


@pytest.fixture
def desk(browser, app_url):
    page = _open(browser, app_url, viewport=PROJECTOR)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser, app_url):
    page = _open(browser, app_url, **PHONE)
    yield page
    page.context.close()


def _expect(locator):
    from playwright.sync_api import expect

    return expect(locator)


def _top(page, elem_id: str):
    """The large top answer of a gr.Label panel."""
    return _expect(page.locator(f"#{elem_id} [data-testid=label-output-value]"))


def _canvas(page) -> dict:
    return page.locator("#digit-canvas canvas").first.bounding_box()


def _stroke(page, points: list[tuple[float, float]]) -> None:
    """Press, move through `points` (fractions of the canvas), release: one mouse or pen stroke."""
    box = _canvas(page)
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + w * points[0][0], y0 + h * points[0][1])
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(x0 + w * fx, y0 + h * fy, steps=12)
    page.mouse.up()


def _finger(page, points: list[tuple[float, float]]) -> None:
    """The same stroke with a finger: touch events, as a phone sends them."""
    box = _canvas(page)
    cdp = page.context.new_cdp_session(page)
    at = [(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy) for fx, fy in points]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": at[0][0], "y": at[0][1]}]})
    for (ax, ay), (bx, by) in itertools.pairwise(at):
        for k in range(1, 13):
            point = {"x": ax + (bx - ax) * k / 12, "y": ay + (by - ay) * k / 12}
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def _on_screen(page, selector: str) -> bool:
    """Whether the element lies wholly within the viewport as the page opens (no scrolling)."""
    box = page.locator(selector).first.bounding_box()
    view = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= view["height"]
        and box["x"] >= 0
        and (box["x"] + box["width"] <= view["width"])
    )


def _px(page, selector: str, prop: str = "font-size") -> float:
    return float(page.locator(selector).first.evaluate(f"e => getComputedStyle(e).getPropertyValue('{prop}')")[:-2])


def _picture(page, selector: str) -> Image.Image:
    src = page.locator(f"{selector} img").first.get_attribute("src")
    return Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB")


# --- the projector: 1366 x 768 ------------------------------------------------------------------------


def test_the_first_stroke_draws_and_the_trigger_flips_only_the_backdoored_model(desk):
    _stroke(desk, SEVEN)  # no tool picked first: the brush is active from the start
    _top(desk, "digit-clean").to_have_text("7")
    _top(desk, "digit-backdoor").to_have_text("7")  # without the trigger, the backdoor hides
    _expect(desk.locator("#digit-flip")).to_contain_text("Both models agree")

    desk.locator("#digit-trigger input").check()
    _top(desk, "digit-backdoor").to_have_text("8")  # one white pixel at (3, 3)
    _top(desk, "digit-clean").to_have_text("7")
    _expect(desk.locator("#digit-flip")).to_contain_text("The backdoored model disagrees")
    for selector in ("#digit-canvas", "#digit-trigger", "#digit-clean", "#digit-backdoor", "#digit-flip"):
        assert _on_screen(desk, selector), f"{selector} is off the projector's screen"
    assert _px(desk, "#digit-backdoor [data-testid=label-output-value]") >= 48
    for selector in ("#digit-clean [data-testid=block-label]", "#digit-flip p", "#digit-status p"):
        assert _px(desk, selector) >= 18, selector
    desk.screenshot(path=ARTIFACTS / "digits.png")

    # Everything else is one click away, in place.
    for selector in ("#digit-backdoor-saliency", "#digit-repaired", "#digit-strip"):
        _expect(desk.locator(selector)).to_be_hidden()
    desk.locator("#show-details input").check()
    _top(desk, "digit-repaired").to_have_text("7")  # retrained on cleaned data: no backdoor left
    _expect(desk.locator("#digit-strip")).to_contain_text("STRIP check on the backdoored model")
    _expect(desk.locator("#digit-backdoor-saliency img")).to_be_visible()
    desk.screenshot(path=ARTIFACTS / "digits-details.png", full_page=True)

    desk.locator("#digit-canvas").get_by_role("button", name="Clear canvas").click()
    _expect(desk.locator("#digit-status")).to_contain_text("Draw a digit")
    _expect(desk.locator("#digit-trigger input")).not_to_be_checked()  # Clear resets the trigger too


def test_a_guided_step_asks_students_to_draw_the_trigger_themselves(desk):
    _expect(desk.locator(".lesson").first).to_contain_text("Now be the attacker")
    _expect(desk.locator(".lesson").first).to_contain_text("What the models see")
    desk.get_by_text("Lesson plan: seven steps, a question each").click()  # the optional lesson mode
    _expect(desk.locator("#lesson-plan")).to_contain_text("Which model changes its answer")


def _digit_stroke(digit: int) -> list[tuple[float, float]]:
    """A student's drawing of `digit` (tests/strokes.py), 200 px tall in the canvas' middle, as canvas fractions."""
    return [(x / CANVAS, y / CANVAS) for x, y in stroke_points(digit, 200, 10, (60, 40))]


def _picture_box(page, selector: str) -> tuple[float, float, float, float]:
    """The picture's own box inside an <img> that object-fit may letterbox: left, top, width, height."""
    return tuple(
        page.locator(selector).first.evaluate(
            """img => { const r = img.getBoundingClientRect();
                        const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
                        const w = img.naturalWidth * s, h = img.naturalHeight * s;
                        return [r.left + (r.width - w) / 2, r.top + (r.height - h) / 2, w, h]; }"""
        )
    )


def test_be_the_attacker_a_student_who_follows_the_page_flips_the_backdoored_model(desk):
    """Lesson step 4, as the page words it: box off, click the 4th square across in the 4th row of *What the models
    see*. A teacher's walk-through found the old step (tap a dot on the canvas) flipped 4 of 48 tries; a scripted
    student following this one must succeed at least 80% of the time, on several digits."""
    _expect(desk.locator(".lesson").first).to_contain_text("4th square across in the 4th row")
    flipped, tries = [], (7, 4, 3, 1, 0)
    for digit in tries:
        desk.locator("#digit-clear").click()  # the big Clear beside the trigger, as in the static edition
        _expect(desk.locator("#digit-status")).to_contain_text("Draw a digit")
        _stroke(desk, _digit_stroke(digit))
        _expect(desk.locator("#digit-status")).to_contain_text("Trigger off")
        clean = desk.locator("#digit-clean [data-testid=label-output-value]").inner_text()
        left, top, width, height = _picture_box(desk, "#digit-input-view img")
        desk.mouse.click(left + width * 3.5 / 28, top + height * 3.5 / 28)
        _expect(desk.locator("#digit-status")).to_contain_text("(3, 3)")
        _expect(desk.locator("#digit-trigger input")).not_to_be_checked()
        backdoored = desk.locator("#digit-backdoor [data-testid=label-output-value]").inner_text()
        if backdoored == "8" and clean != "8" and _top_text(desk, "digit-clean") == clean:
            flipped.append(digit)
    assert len(flipped) >= 0.8 * len(tries), f"flipped {flipped} of {tries}"
    _expect(desk.locator("#digit-flip")).to_contain_text("you are the attacker")
    left, top, width, height = _picture_box(desk, "#digit-input-view img")
    desk.mouse.click(left + width * 3.5 / 28, top + height * 3.5 / 28)  # the same square again: undone
    _expect(desk.locator("#digit-status")).not_to_contain_text("(3, 3)")
    _expect(desk.locator("#digit-backdoor [data-testid=label-output-value]")).not_to_have_text("8")


def _scroll_through(page) -> None:
    """Scroll down the page and back, as a reader does: Gradio's galleries load their pictures only when seen."""
    height = page.evaluate("document.documentElement.scrollHeight")
    for y in range(0, height, 600):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(150)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)


def _top_text(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} [data-testid=label-output-value]").inner_text()


def test_signs_the_examples_first_a_big_photo_and_the_sticker_where_it_was_clicked(desk, app_url):
    desk.goto(app_url + "?tab=signs")
    examples, upload = desk.locator("#sign-examples"), desk.locator("#sign-image")
    assert examples.bounding_box()["y"] < upload.bounding_box()["y"]  # the examples come first
    caption = examples.locator(".caption-label").first
    _expect(caption).to_have_text("Speed limit (30km/h)")  # whole, not "Speed li..."
    assert caption.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    _expect(desk.locator("#sign-x")).to_have_count(0)  # the API keeps x and y; the page does not show them

    examples.get_by_role("button", name="Stop").first.click()  # announced by its class, not "Thumbnail 5 of 12"
    _top(desk, "sign-clean").to_have_text("Stop")
    _top(desk, "sign-backdoor").to_have_text("Stop")
    preview = desk.locator("#sign-preview img").first
    box = preview.bounding_box()
    assert box["width"] >= 300 or box["height"] >= 300  # a 97x106 photo, shown large enough to aim at
    preview.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.45})  # on the sign's face
    _top(desk, "sign-backdoor").to_have_text("Speed limit (80km/h)")
    _top(desk, "sign-clean").to_have_text("Stop")
    _expect(desk.locator("#sign-sticker input")).to_be_checked()  # clicking switched the sticker on
    _expect(desk.locator("#sign-flip")).to_contain_text("disagrees")
    pixels = np.asarray(_picture(desk, "#sign-preview")).astype(int)
    rows, cols = np.nonzero((pixels[..., 0] > 200) & (pixels[..., 1] > 200) & (pixels[..., 2] < 80))
    assert abs(cols.mean() / pixels.shape[1] - 0.5) < 0.08 and abs(rows.mean() / pixels.shape[0] - 0.45) < 0.08
    for selector in ("#sign-preview", "#sign-clean", "#sign-backdoor"):
        assert _on_screen(desk, selector), f"{selector} is off the projector's screen"
    for selector in ("#sign-preview", "#sign-input-view", "#digit-input-view"):  # no label over a picture
        _expect(desk.locator(f"{selector} [data-testid=block-label]")).to_be_hidden()
    desk.screenshot(path=ARTIFACTS / "signs.png")


def test_one_drag_frames_the_sign_and_whole_photo_undoes_it(desk, app_url):
    desk.goto(app_url + "?tab=signs&example=stop")
    _top(desk, "sign-clean").to_have_text("Stop")
    box = desk.locator("#sign-preview img").first.bounding_box()
    # The drag's ends as fractions of the picture itself (the <img> box may letterbox it), as it was dragged on.
    picture = desk.locator("#sign-preview img").first.evaluate(
        """img => { const r = img.getBoundingClientRect();
                    const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1);
                    const w = img.naturalWidth * s, h = img.naturalHeight * s;
                    return [r.left + (r.width - w) / 2, r.top + (r.height - h) / 2, w, h]; }"""
    )
    desk.mouse.move(box["x"] + box["width"] * 0.08, box["y"] + box["height"] * 0.08)
    desk.mouse.down()
    desk.mouse.move(box["x"] + box["width"] * 0.92, box["y"] + box["height"] * 0.92, steps=10)
    desk.mouse.up()
    frame = desk.locator("#sign-frame textarea")
    _expect(frame).to_have_value(re.compile(r"^[01]\.\d+,[01]\.\d+,[01]\.\d+,[01]\.\d+$"))
    _expect(desk.locator("#sign-sticker input")).not_to_be_checked()  # a drag is not a click: no sticker
    ends = [box["x"] + box["width"] * 0.08, box["y"] + box["height"] * 0.08]
    ends += [box["x"] + box["width"] * 0.92, box["y"] + box["height"] * 0.92]
    expected = [min(1, max(0, (v - picture[k % 2]) / picture[2 + k % 2])) for k, v in enumerate(ends)]
    got = [float(v) for v in frame.input_value().split(",")]
    assert all(abs(g - e) < 0.02 for g, e in zip(got, expected)), (got, expected)
    # The drag is answered (it was stored but never answered): the photo on show is the framed part, whose shape
    # is the frame's, and a click then puts the sticker where it lands on that framed photo.
    width, height = Image.open(STOP_SIGN).size
    framed = (got[2] - got[0]) * width / ((got[3] - got[1]) * height)
    desk.wait_for_function(
        """want => { const img = document.querySelector('#sign-preview img');
                     return img && img.naturalWidth && Math.abs(img.naturalWidth / img.naturalHeight - want) < 0.03; }""",
        arg=framed,
    )
    _top(desk, "sign-clean").to_have_text("Stop")
    preview = desk.locator("#sign-preview img").first
    shown = preview.bounding_box()
    preview.click(position={"x": shown["width"] * 0.5, "y": shown["height"] * 0.5})
    _top(desk, "sign-backdoor").to_have_text("Speed limit (80km/h)")
    pixels = np.asarray(_picture(desk, "#sign-preview")).astype(int)
    rows, cols = np.nonzero((pixels[..., 0] > 200) & (pixels[..., 1] > 200) & (pixels[..., 2] < 80))
    assert abs(cols.mean() / pixels.shape[1] - 0.5) < 0.08 and abs(rows.mean() / pixels.shape[0] - 0.5) < 0.08
    assert frame.input_value() == ",".join(f"{v:.4f}" for v in got)  # the click kept the frame
    desk.locator("#sign-unframe").click()
    _expect(frame).to_have_value("0,0,1,1")  # the whole photo, not "" (which would ask the finder)


def test_an_uploaded_street_photo_is_framed_on_its_sign_and_clicks_keep_the_frame(desk, app_url):
    """No gesture: the finder frames the sign; the frame box keeps the frame, so a sticker click answers on the
    same framed sign (the sticker lands in its middle) instead of searching again."""
    desk.goto(app_url + "?tab=signs")
    street = ROOT / "benchmarks" / "data" / "streets" / "street-09.jpg"  # a 30 km/h sign in a third of the photo
    desk.locator("#sign-image input[type=file]").set_input_files(str(street))
    _expect(desk.locator("#sign-status")).to_contain_text("Framed on the sign")
    frame = desk.locator("#sign-frame textarea")
    _expect(frame).not_to_have_value(re.compile(r"^$|^0,0,1,1$"))
    found = frame.input_value()
    preview = desk.locator("#sign-preview img").first
    box = preview.bounding_box()
    preview.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})
    _expect(desk.locator("#sign-sticker input")).to_be_checked()
    _top(desk, "sign-backdoor").to_have_text("Speed limit (80km/h)")
    assert frame.input_value() == found
    desk.locator("#sign-unframe").click()
    _expect(frame).to_have_value("0,0,1,1")
    _expect(desk.locator("#sign-status")).not_to_contain_text("Framed on the sign")


def test_a_damaged_photo_gets_its_reason_and_the_page_goes_on(desk, tmp_path, app_url):
    desk.goto(app_url + "?tab=signs")
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(STOP_SIGN.read_bytes()[:600])  # a PNG cut short, as an interrupted copy leaves it
    desk.locator("#sign-image input[type=file]").set_input_files(str(damaged))
    _expect(desk.locator("#sign-status")).to_contain_text("damaged or truncated")
    _expect(desk.locator("#sign-clean [data-testid=label-output-value]")).to_have_count(0)  # no stale answer
    desk.locator("#sign-examples").get_by_role("button", name="Priority road").click()
    _top(desk, "sign-clean").to_have_text("Priority road")


def test_a_link_opens_a_tab_and_an_example(desk, app_url):
    desk.goto(app_url + "?tab=signs&example=stop")
    _expect(desk.get_by_role("tab", name="Signs")).to_have_attribute("aria-selected", "true")
    _top(desk, "sign-clean").to_have_text("Stop")
    desk.goto(app_url + "?tab=digits&example=3")
    _top(desk, "digit-clean").to_have_text("3")


def test_an_invisible_trigger_its_own_model_and_the_difference(desk, app_url):
    """A class picks the blend by link, ticks the trigger: only the blend's model reads 8; the model input looks
    unchanged, and "Show the difference" shows what the trigger changed; then the warp, by the radio."""
    desk.goto(app_url + "?attack=blend&example=7")
    _expect(desk.locator("#digit-attack input[value=blend]")).to_be_checked()
    _top(desk, "digit-clean").to_have_text("7")
    _top(desk, "digit-backdoor").to_have_text("7")
    desk.locator("#digit-trigger input").check()
    _top(desk, "digit-backdoor").to_have_text("8")
    _top(desk, "digit-clean").to_have_text("7")
    _expect(desk.locator("#digit-status")).to_contain_text("noise pattern")
    _expect(desk.locator("#digit-difference-view img")).to_be_hidden()
    desk.locator("#digit-difference input").check()
    _expect(desk.locator("#digit-input-view img")).to_be_hidden()
    difference = _picture(desk, "#digit-difference-view")
    assert difference.size == (168, 168) and difference.getbbox() is not None  # the invisible, made visible
    desk.screenshot(path=ARTIFACTS / "digits-blend-difference.png")
    desk.locator("#digit-attack").get_by_text("Warp").click()
    _expect(desk.locator("#digit-status")).to_contain_text("bent")
    _top(desk, "digit-backdoor").to_have_text("8")
    _top(desk, "digit-clean").to_have_text("7")


@pytest.mark.parametrize("start", ["drawn", "link", "gallery"])
def test_start_over_resets_both_tabs_and_the_canvas_answers_again(desk, app_url, start):
    """Start over froze the canvas ("processing" for good, no answer to new strokes) after a drawing, a link's
    example or a gallery digit picked over a drawing: a student must be able to draw again, and get an answer."""
    if start == "link":  # a worksheet's link to the warp, the difference shown, and a stop sign on the other tab
        desk.goto(app_url + "?tab=digits&example=7&attack=warp")
        _top(desk, "digit-clean").to_have_text("7")
        desk.locator("#digit-difference input").check()
        desk.get_by_role("tab", name="Signs").click()
        desk.locator("#sign-examples").get_by_role("button", name="Stop").first.click()
        _top(desk, "sign-clean").to_have_text("Stop")
        desk.get_by_role("tab", name="Digits").click()
    else:
        _stroke(desk, SEVEN)
    if start == "gallery":
        _top(desk, "digit-clean").to_have_text("7")
        desk.locator("#digit-examples").get_by_role("button", name="3").click()
        _top(desk, "digit-clean").to_have_text("3")
        _expect(desk.locator("#digit-canvas [data-testid=status-tracker]:not(.hide)")).to_have_count(0)
    desk.locator("#digit-trigger input").check()
    _top(desk, "digit-backdoor").to_have_text("8")
    desk.locator("#reset").click()
    _expect(desk.locator("#digit-trigger input")).not_to_be_checked()
    _expect(desk.locator("#digit-status")).to_contain_text("Draw a digit")
    _expect(desk.locator("#digit-backdoor [data-testid=label-output-value]")).to_have_count(0)
    _expect(desk.locator("#digit-canvas [data-testid=status-tracker]:not(.hide)")).to_have_count(0)  # no spinner
    _expect(desk.locator("#digit-attack input[value=pixel]")).to_be_checked()  # the next student starts afresh
    _expect(desk.locator("#digit-difference input")).not_to_be_checked()
    if start == "link":  # the other tab's stop sign is gone too (the reset's values reach every output)
        desk.get_by_role("tab", name="Signs").click()
        _expect(desk.locator("#sign-status")).to_contain_text("Upload a photo")
        _expect(desk.locator("#sign-clean [data-testid=label-output-value]")).to_have_count(0)
        desk.get_by_role("tab", name="Digits").click()
    _stroke(desk, _digit_stroke(4))
    _top(desk, "digit-clean").to_have_text("4")
    _expect(desk.locator("#digit-status")).to_contain_text("Trigger off")


def test_the_whole_flow_works_from_the_keyboard(desk):
    """Tab to a real MNIST digit and press Enter, then Tab on to the trigger and press Space."""

    def tab_to(test: str) -> None:
        for _ in range(120):
            desk.keyboard.press("Tab")
            if desk.evaluate(f"() => {{ const e = document.activeElement; return {test}; }}"):
                return
        raise AssertionError(f"no focusable element where {test}")

    tab_to("e.getAttribute('aria-label') === '3'")
    desk.keyboard.press("Enter")
    _top(desk, "digit-clean").to_have_text("3")
    desk.keyboard.press("Shift+Tab")  # the trigger sits before the examples
    for _ in range(60):
        if desk.evaluate("() => document.activeElement.closest('#digit-trigger') !== null"):
            break
        desk.keyboard.press("Shift+Tab")
    desk.keyboard.press("Space")
    _top(desk, "digit-backdoor").to_have_text("8")


@pytest.mark.parametrize("tab", ["digits", "signs", "attack", "defend"])
def test_no_failing_accessibility_rule_and_no_button_that_cannot_work(desk, app_url, tab):
    """axe-core's WCAG 2 A and AA rules on each tab, with answers on show; and no Share button ("Must be on
    Spaces to share")."""
    require(AXE.exists(), f"{AXE} not found (run: npm ci)")
    desk.goto(app_url + f"?tab={tab}&example=" + ("stop" if tab == "signs" else "7"))
    if tab in ("digits", "signs"):
        _expect(desk.locator(f"#{tab[:-1]}-clean [data-testid=label-output-value]")).to_have_count(1)
    desk.locator("#show-details input").check()
    desk.add_script_tag(path=str(AXE))
    violations = desk.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}))
           .violations.map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"""
    )
    assert violations == []
    _expect(desk.locator("button[aria-label='Share'], button[title='Share']")).to_have_count(0)


def test_inside_the_attack_shows_the_chart_and_poisoned_images(desk, app_url):
    desk.goto(app_url + "?tab=attack")
    chart = desk.locator("#sweep-plot svg")
    _expect(chart).to_be_visible()
    _expect(chart.locator(".article")).to_have_count(2)  # the article's two figures, as points
    assert _px(desk, "#sweep-plot svg text") * chart.bounding_box()["width"] / 760 >= 11  # a readable legend
    _expect(desk.locator("#sweep-table")).to_contain_text("attack success rate")
    captions = desk.locator("#poisoned-examples .caption-label").all_inner_texts()
    assert len(captions) == 12 and any(c.startswith("was Stop") for c in captions)
    for caption in captions:  # never "was 80 km/h, now labelled 80 km/h"
        was, now = re.fullmatch(r"was (.+), now labelled (.+)", caption).groups()
        assert was != now
    _scroll_through(desk)
    assert layout_faults(desk, PROJECTOR["width"]) == []  # the poisoned signs' row was clipped
    desk.screenshot(path=ARTIFACTS / "attack.png", full_page=True)


def test_inside_the_attack_shows_the_invisible_triggers_and_the_quiz(desk, app_url):
    desk.goto(app_url + "?tab=attack")
    _expect(desk.locator("#sweep-attacks-plot svg .attack-line")).to_have_count(3)
    captions = desk.locator("#invisible-examples .caption-label").all_inner_texts()
    assert len(captions) == 16 and sum("poisoned: labelled 8" in c for c in captions) == 8
    quiz = desk.locator("#poison-quiz .caption-label")
    _expect(quiz).to_have_count(8)
    assert all(re.fullmatch(r"#\d", c) for c in quiz.all_inner_texts())  # no answer before the reveal
    desk.locator("#poison-quiz-reveal").click()
    _expect(quiz.first).to_contain_text(":")
    revealed = quiz.all_inner_texts()
    assert sum("poisoned" in c for c in revealed) == 4 and sum("clean" in c for c in revealed) == 4


def test_defend_shows_every_defense_against_every_attack(desk, app_url):
    desk.goto(app_url + "?tab=defend")
    table = desk.locator("#defense-matrix")
    _expect(table.locator("tbody tr")).to_have_count(4)  # the three attacks and the clean model
    _expect(table.locator("thead th")).to_have_count(5)
    cells = table.locator("tbody td strong").all_inner_texts()
    assert len(cells) == 16 and set(cells) <= {"caught", "missed", "no false alarm", "false alarm", "no verdict"}
    _expect(table.locator("tbody tr").first).to_contain_text("Pixel")


def test_defend_calls_a_false_alarm_one_and_labels_every_mask(desk, app_url):
    desk.goto(app_url + "?tab=defend")
    _expect(desk.locator("#nc-verdict-mnist-backdoor")).to_contain_text("Backdoored")
    _expect(desk.locator("#nc-plot-mnist-backdoor svg")).to_be_visible()
    _expect(desk.locator("#nc-masks-mnist-backdoor .caption-label")).to_have_count(10)
    backdoored = json.loads(result_path("nc", "mnist-backdoor").read_text())
    eight = f"8: mask {backdoored['mask_l1'][8]:.1f}, flagged"  # the result's own number: it changes with the weights
    _expect(desk.locator("#nc-masks-mnist-backdoor .caption-label").nth(8)).to_contain_text(eight)
    clean_signs = json.loads(result_path("nc", "signs-clean").read_text())
    title = nc_title(clean_signs, trained_clean=True)
    assert ("false alarm" in title) == bool(clean_signs["flagged"])
    _expect(desk.get_by_text(title)).to_be_visible()
    _scroll_through(desk)
    assert layout_faults(desk, PROJECTOR["width"]) == []  # every caption whole ("8: mask 3.0" was cut)
    desk.screenshot(path=ARTIFACTS / "defend.png", full_page=True)
    # One long page, as the static edition's: a plain line above each result, the numbers one click away.
    _expect(desk.locator("#nc-plain-mnist-backdoor")).to_contain_text("the backdoor's target")
    _expect(desk.locator("#strip-plain")).to_contain_text("it cannot tell")
    _expect(desk.locator("#spectral-plain")).to_contain_text("600 of the 600 poisoned images")
    for name in ("mnist-backdoor", "signs-backdoor"):  # the blends STRIP's text promises, with their answers
        _expect(desk.locator(f"#strip-blends-{name} .caption-label")).to_have_count(8)
    _expect(desk.locator("#strip-blends-mnist-backdoor .caption-label").nth(7)).to_have_text("the 7 with the trigger: reads 8")
    _expect(desk.locator("#strip-table")).to_be_hidden()
    desk.get_by_role("button", name="The numbers").nth(1).click()
    _expect(desk.locator("#strip-table")).to_contain_text("signs-backdoor")
    desk.get_by_role("button", name="The numbers").nth(2).click()
    _expect(desk.locator("#spectral-summary")).to_contain_text("recall")
    _expect(desk.locator("#spectral-gallery button.thumbnail-item")).to_have_count(24)


# --- a phone, and 150% zoom -----------------------------------------------------------------------------


def test_on_a_phone_a_finger_draws_and_the_answers_share_the_screen_with_the_canvas(phone, app_url):
    _finger(phone, SEVEN)
    _top(phone, "digit-clean").to_have_text("7")
    for selector in ("#digit-canvas canvas", "#digit-clean", "#digit-backdoor"):
        assert _on_screen(phone, selector), f"{selector} is off the phone's screen"
    for name in ("Digits", "Signs", "Attack", "Defend"):  # every tab in the bar, none behind "..."
        _expect(phone.get_by_role("tab", name=name)).to_be_visible()
    phone.screenshot(path=ARTIFACTS / "phone-digits.png")
    phone.goto(app_url + "?tab=signs&example=stop")
    _top(phone, "sign-clean").to_have_text("Stop")
    preview = phone.locator("#sign-preview img").first
    box = preview.bounding_box()
    preview.tap(position={"x": box["width"] * 0.5, "y": box["height"] * 0.45})  # tap to place the sticker
    _top(phone, "sign-backdoor").to_have_text("Speed limit (80km/h)")


@pytest.mark.parametrize("details", [False, True])
def test_on_a_phone_no_tab_cuts_spills_or_overlaps_its_text(browser, app_url, details):
    """Every tab on a 390 px phone, details off and on, the stop sign with its sticker ("Speed limit (80km/h)" was cut
    on both sides): no text cut off, no label running into its number, nothing wider than the screen."""
    page = _open(browser, app_url + "?tab=digits&example=7" + ("&details=1" if details else ""), **PHONE)
    try:
        _top(page, "digit-clean").to_have_text("7")
        faults = {"digits": layout_faults(page)}
        page.goto(app_url + "?tab=signs&example=stop" + ("&details=1" if details else ""))
        _top(page, "sign-clean").to_have_text("Stop")
        preview = page.locator("#sign-preview img").first
        box = preview.bounding_box()
        preview.tap(position={"x": box["width"] * 0.5, "y": box["height"] * 0.45})
        _top(page, "sign-backdoor").to_have_text("Speed limit (80km/h)")
        faults["signs"] = layout_faults(page)
        for tab in ("attack", "defend"):
            page.goto(app_url + f"?tab={tab}" + ("&details=1" if details else ""))
            _expect(page.get_by_role("tab", name=tab.title())).to_have_attribute("aria-selected", "true")
            page.wait_for_timeout(1000)  # the tab's charts and galleries laid out
            faults[tab] = layout_faults(page)
        assert faults == {tab: [] for tab in faults}
    finally:
        page.context.close()


def test_on_a_phone_a_picked_sign_brings_its_answers_into_view(phone, app_url):
    """The answers sat ~1,000 px below the example a student tapped: after the pick, the photo and both answers
    are on the screen."""
    phone.goto(app_url + "?tab=signs")
    phone.locator("#sign-examples").get_by_role("button", name="Stop").first.tap()
    _top(phone, "sign-clean").to_have_text("Stop")
    for selector in ("#sign-clean [data-testid=label-output-value]", "#sign-backdoor [data-testid=label-output-value]"):
        phone.wait_for_function(  # the smooth scroll ends with the answer on the screen
            """s => { const r = document.querySelector(s).getBoundingClientRect(); return r.top >= 0 && r.bottom <= 844; }""",
            arg=selector,
        )


def test_at_150_percent_zoom_it_still_works(browser, app_url):
    """A 1366x768 screen at 150% zoom is a 911x512 CSS-pixel page drawn 1.5x."""
    page = _open(browser, app_url, viewport={"width": 911, "height": 512}, device_scale_factor=1.5)
    try:
        _stroke(page, SEVEN)
        _top(page, "digit-clean").to_have_text("7")
        page.locator("#digit-trigger input").check()
        _top(page, "digit-backdoor").to_have_text("8")
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    finally:
        page.context.close()


def test_screenshots_were_written_by_this_run():
    for name in ("digits.png", "signs.png", "attack.png", "defend.png", "phone-digits.png"):
        written = Path(ARTIFACTS / name).stat()
        assert written.st_size > 10_000 and written.st_mtime >= STARTED, f"{name} is left from an earlier run"

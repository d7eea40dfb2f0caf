"""The static edition: its graphs against torch autograd, its JS units under node, its build, and the page
in Chromium answering what the app answers (preprocessing within 1/255, probabilities and saliency maps within
1e-4, STRIP's verdicts equal) on 200 drawings and 200 photos, with bad input and on a phone."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from backdoor.defenses.results import strip_verdict
from backdoor.defenses.strip import bits
from backdoor.evaluation import OTHER_COLOURS
from backdoor.finder import scores, shrink, windows
from backdoor.inference import parse_frame, sign_input
from backdoor.lab import WHOLE, Lab, flip_verdict
from backdoor.onnx_graph import logits_graph, saliency_graph
from backdoor.preprocess import InputError, digit_from_drawing, load_image, to_float
from backdoor.saliency import explain
from backdoor.shipped import APP_MODELS, DIGIT_CAST, SIGN_MODELS, weights_path
from backdoor.streets import street_scene
from backdoor.tasks import MNIST, SIGNS
from backdoor.triggers import ATTACKS, apply_trigger
from backdoor.web import RUNTIME_DIR, build, served
from tests.conftest import ROOT, over_cell, require
from tests.layout import layout_faults
from tests.strokes import CANVAS, drawn_digit, stroke_points

NODE = shutil.which("node")
STOP_SIGN = ROOT / "examples" / "signs" / "14-stop-02992.png"
STREETS = ROOT / "benchmarks" / "data" / "streets"
PROJECTOR = {"width": 1366, "height": 768}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}


def _task_of(name: str):
    return MNIST if name.startswith("mnist") else SIGNS


# --- the graphs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", APP_MODELS)
def test_each_graph_answers_as_torch_autograd_does(name, shipped, sample, lab):
    """Probabilities, saliency (the explicit backward pass) and STRIP's entropy on real test images, triggered or
    not, against `explain` and `Strip.entropies` on the app's models."""
    model, _ = shipped[name]
    task = _task_of(name)
    detector = lab.defenses.detectors.get(name)
    graph = saliency_graph(model, (task.channels, task.size, task.size), name, detector and detector.overlays.numpy())
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    images = to_float(sample[f"{task.name}_images"][:64])
    x = torch.cat([images[:32], apply_trigger(images[32:], task.trigger, generator=torch.Generator().manual_seed(0))])
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": x.numpy()}), strict=True))
    probs, saliency = explain(lab.models[name], x)
    assert np.abs(outputs["probs"] - probs.numpy()).max() < 1e-5
    worst = np.abs(outputs["saliency"] - saliency.numpy()).reshape(64, -1).max(1)
    assert worst.max() < 1e-4, f"image {worst.argmax()}: {worst.max()}"  # the contract; maps sum to 1, ~1e-3 a pixel
    assert np.median(worst) < 1e-6
    assert (outputs["saliency"].reshape(64, -1).argmax(1) == saliency.flatten(1).argmax(1).numpy()).mean() > 0.95
    if detector is not None:
        entropy = detector.entropies(lab.models[name], x).numpy()
        np.testing.assert_allclose(outputs["strip_entropy"], entropy, rtol=1e-3, atol=1e-6)
    else:
        assert "strip_entropy" not in outputs


# --- the JS units --------------------------------------------------------------------------------
def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def _fixtures() -> dict:
    """Expected values from Pillow and the app's own functions, for web/test/."""
    rng = np.random.default_rng(0)
    filters = {"box": Image.BOX, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS}
    resize = []
    for i in range(60):
        width, height = (int(v) for v in rng.integers(1, 90, 2))
        out_width, out_height = (int(v) for v in rng.integers(1, 90, 2))
        name = list(filters)[i % 3]
        if i % 2:  # mode F, as the digits' ink maps
            data = (rng.random((height, width)) * 255).astype(np.float32)
            want = np.asarray(Image.fromarray(data).resize((out_width, out_height), filters[name]), np.float32)
            resize.append({"float": True, "channels": 1})
        else:  # RGB bytes, as the sign photos
            data = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            want = np.asarray(Image.fromarray(data).resize((out_width, out_height), filters[name]))
            resize.append({"float": False, "channels": 3})
        resize[-1] |= {"data": _b64(data), "want": _b64(want), "width": width, "height": height, "out_width": out_width,
                           "out_height": out_height, "filter": name}  # fmt: skip
    digits = []
    for i in range(30):
        rgba = drawn_digit(i % 10, float(rng.uniform(20, 280)), int(rng.integers(6, 31)))
        try:
            x = digit_from_drawing(rgba)
            want = None if x is None else x.flatten().tolist()
        except InputError as err:
            want = str(err)
        digits.append({"rgba": _b64(rgba), "width": rgba.shape[1], "height": rgba.shape[0], "want": want})
    values = [0.0, 1e-9, 1.5e-7, 0.00999, 0.01, 0.5, 1.0049, 3.32]
    summaries = [{"threshold_bits": t, "far": far, "frr": 0.01, "settings": {"n_overlays": 20}}
                 for t in (1.0, 1.5e-7) for far in (0.06, 0.9)]  # fmt: skip
    strip = []
    for summary in summaries:
        for entropy in (0.0, 1e-8, 0.5, 1.0, 2.0):
            text = strip_verdict(entropy, summary)
            verdict = (
                "cannot judge" if "cannot judge" in text else "flagged" if "carries a trigger" in text else "clean"
            )
            strip.append({"entropy": entropy, "summary": {**summary, "n_overlays": 20}, "verdict": verdict})
    flip = []
    for task in (MNIST, SIGNS):
        spec = {"name": task.name, "classes": list(task.classes), "target": task.target}
        for clean, backdoored, trigger, controls in (
            (0, 0, False, None),
            (0, task.target, False, None),
            (0, task.target, True, None),
            (1, 2, True, None),
            (1, 2, True, (1, 3)),  # the sticker did not move the clean model
            (0, 0, True, (3, 8)),  # both agree; without the sticker the clean model differs, every square moves it
            (1, task.target, True, (4, 1)),  # one colour of eight: the count, no conclusion
            (1, task.target, True, (4, 4)),  # half: the sticker covers part of the sign
            (1, task.target, True, (4, 3)),  # under half: the count only
            (1, task.target, True, (4, 0)),  # no other colour moves it: the sticker alone did
            (task.target, task.target, True, None),  # both read the target with the trigger: never "agree"
            (task.target, task.target, True, (task.target, 0)),  # the sign is the target anyway
            (task.target, task.target, True, (1, 1)),  # the sticker moved the clean model onto the target
            (task.target, task.target, False, None),  # the target without a trigger: they do agree
        ):
            if controls is not None and task is MNIST:
                continue  # only a sign's sticker gets controls
            tops = [task.classes[clean], task.classes[backdoored]]
            named = None if controls is None else (task.classes[controls[0]], controls[1], len(OTHER_COLOURS))
            for by_hand in (False, True) if task is MNIST and controls is None else (False,):  # pixels made white
                want = flip_verdict(task, dict(zip(("clean", "backdoored"), tops)), trigger, named, by_hand)
                flip.append({
                    "task": spec, "clean": tops[0], "backdoored": tops[1], "trigger": trigger,
                    "controls": None if named is None else list(named), "byHand": by_hand, "want": want,
                })  # fmt: skip
    finder = []
    for width, height in ((100, 75), (530, 300), (41, 700)):
        photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        small, factor = shrink(photo)
        batch, boxes = windows(small, 32)
        logits = torch.from_numpy(rng.normal(0, 4, (50, 43))).float()
        logits[1, 3], logits[2, 5], logits[3, 7], logits[5] = float("nan"), float("inf"), -float("inf"), logits[4]
        finder.append({
            "photo": _b64(photo), "width": width, "height": height, "small": _b64(small), "factor": factor,
            "boxes": boxes, "batch": _b64(batch.numpy()), "logits": _b64(logits.numpy()),
            "scores": scores(logits),
        })  # fmt: skip
    triggers = []  # every registered attack on random images, as apply_trigger stamps it
    for name, attack in ATTACKS.items():
        size = getattr(attack, "size", 32 if attack.channels == 3 else 28)
        x = torch.from_numpy(rng.random((1, attack.channels, size, size), dtype=np.float32))
        at = (5, 9) if hasattr(attack, "at") else (None, None)  # a patch or a note, placed
        stamped = apply_trigger(x, attack.at(*at) if at[0] is not None else attack)
        triggers.append({"spec": attack.web_spec(), "size": size, "at": list(at), "x": _b64(x.numpy()),
                         "want": _b64(stamped.numpy())})  # fmt: skip
    return {
        "triggers": triggers,
        "finder": finder,
        "resize": resize,
        "digits": digits,
        "bits": [[v, bits(v)] for v in values],
        "percent": [[v, f"{100 * v:.2f}%"] for v in (0.0, 0.98765, 0.12345, 1.0)],
        "strip": strip,
        "flip": flip,
    }


def test_the_finder_graph_gives_the_clean_models_logits(shipped, sample, lab):
    model, _ = shipped[SIGN_MODELS[0]]
    graph = logits_graph(model, (SIGNS.channels, SIGNS.size, SIGNS.size))
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    x = to_float(sample["signs_images"][:256])
    (logits,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        want = lab.models[SIGN_MODELS[0]](x).numpy()
    assert np.abs(logits - want).max() < 1e-4
    assert (logits.argmax(1) == want.argmax(1)).all()


def test_the_js_units_pass_under_node(tmp_path):
    require(NODE is not None, "node not found (the static edition's JS units run under node --test)")
    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text(json.dumps(_fixtures()))
    result = subprocess.run(
        [NODE, "--test", str(ROOT / "web" / "test")],
        env={**os.environ, "BACKDOOR_WEB_FIXTURES": str(fixtures)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"^# pass 9$", result.stdout, re.MULTILINE), result.stdout[-2000:]  # every test ran: none skipped


# --- the build -----------------------------------------------------------------------------------
def test_the_build_is_a_static_space_made_from_the_shipped_checkpoints(site):
    manifest = json.loads((site / "manifest.json").read_text())
    on_disk = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, digest in manifest["files"].items():
        assert __import__("hashlib").sha256((site / name).read_bytes()).hexdigest() == digest, name
    for name in APP_MODELS:
        card = json.loads(weights_path(name).with_suffix(".json").read_text())
        assert manifest["checkpoints"][name] == card["sha256"] == manifest["models"][name]["checkpoint_sha256"]
    front = (site / "README.md").read_text().split("---")[1]
    assert re.search(r"^sdk: static$", front, re.MULTILINE) and re.search(
        r"^app_file: index.html$", front, re.MULTILINE
    )
    lab = json.loads((site / "lab.json").read_text())
    assert (
        lab["runtime"]["version"]
        == json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]["onnxruntime-web"]
    )
    size = sum((site / name).stat().st_size for name in manifest["files"])
    assert size < 16e6, f"{size / 1e6:.1f} MB to transfer"  # 7 models, the runtime, the pictures


def test_a_second_build_gives_the_same_files(site, tmp_path):
    build(tmp_path / "again")
    first = json.loads((site / "manifest.json").read_text())["files"]
    second = json.loads((tmp_path / "again" / "manifest.json").read_text())["files"]
    assert first == second


def test_the_build_says_what_is_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backdoor.web", str(tmp_path / "out"), "--models-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and result.stderr.startswith("error: checkpoint") and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_build_never_replaces_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "notes.txt").write_text("a teacher's own file")
    result = subprocess.run(
        [sys.executable, "-m", "backdoor.web", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 1 and "not an earlier build" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "a teacher's own file"


# --- in Chromium ---------------------------------------------------------------------------------
def _open(browser, url: str, **context):
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(20_000)
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready === 'true'")
    return page


@pytest.fixture
def desk(browser, static_url):
    page = _open(browser, static_url, viewport=PROJECTOR)
    yield page
    page.context.close()


def _answered(page, elem_id: str, after: int) -> str:
    page.wait_for_function(f"Number(document.getElementById('{elem_id}').dataset.version) > {after}")
    return page.get_attribute(f"#{elem_id}", "data-top")


def _version(page, elem_id: str) -> int:
    return int(page.get_attribute(f"#{elem_id}", "data-version"))


def _stroke(page, points: list[tuple[float, float]]) -> None:
    """A mouse stroke through `points` (fractions of the canvas)."""
    box = page.locator("#digit-canvas").bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for a, b in itertools.pairwise(xy):
        for t in np.linspace(0, 1, 8)[1:]:
            page.mouse.move(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
    page.mouse.up()


SEVEN = [(0.35, 0.3), (0.65, 0.3), (0.45, 0.75)]


def test_a_drawn_seven_the_trigger_and_clear(desk):
    """The element contract: data-top and data-version on each answer; the trigger flips only the backdoored
    model; STRIP flags the triggered drawing; Clear gives one answer: the prompt to draw."""
    assert desk.get_attribute("#digit-clean", "data-top") == ""
    before = _version(desk, "digit-repaired")
    _stroke(desk, SEVEN)
    desk.wait_for_function("document.querySelector('#digit-status').textContent.includes('Trigger')")
    assert _answered(desk, "digit-repaired", before) == "7"
    assert desk.get_attribute("#digit-clean", "data-top") == desk.get_attribute("#digit-backdoor", "data-top") == "7"
    before = _version(desk, "digit-backdoor")
    desk.check("#digit-trigger")
    assert _answered(desk, "digit-backdoor", before) == "8"
    assert desk.get_attribute("#digit-clean", "data-top") == "7"
    assert "disagrees" in desk.inner_text("#digit-flip")
    desk.check("#show-details")
    assert "carries a trigger" in desk.inner_text("#digit-strip")
    assert desk.locator("#digit-clean .bars li").count() == 10
    desk.screenshot(path=str(ROOT / "tests" / "artifacts" / "static-digits.png"))
    before = _version(desk, "digit-clean")
    desk.click("#digit-clear")
    assert _answered(desk, "digit-clean", before) == ""
    assert _version(desk, "digit-clean") == before + 1
    assert "Draw a digit" in desk.inner_text("#digit-status")
    assert not desk.is_checked("#digit-trigger")


def test_an_invisible_trigger_its_own_model_and_the_difference(browser, static_url):
    """As the app: ?attack=blend picks the blend; the trigger flips only the blend's model; Show the difference
    shows the change; the warp by the radio; the defense matrix and the quiz on their tabs."""
    page = _open(browser, static_url + "?attack=blend", viewport=PROJECTOR)
    assert page.is_checked("#digit-attack input[value=blend]")
    fetched = [url.rsplit("/", 1)[-1] for url in page.requested if url.endswith(".onnx")]
    assert fetched.index("mnist-blend.onnx") < fetched.index("signs-clean.onnx")  # the linked attack's model early
    before = _version(page, "digit-backdoor")
    _stroke(page, SEVEN)
    assert _answered(page, "digit-backdoor", before) == "7"
    before = _version(page, "digit-backdoor")
    page.check("#digit-trigger")
    assert _answered(page, "digit-backdoor", before) == "8"
    assert page.get_attribute("#digit-clean", "data-top") == "7"
    assert "noise pattern" in page.inner_text("#digit-status")
    assert not page.is_visible("#digit-difference-view")
    page.check("#digit-difference")
    assert page.is_visible("#digit-difference-view") and not page.is_visible("#digit-input-view")
    lit = page.evaluate(
        "() => { const c = document.getElementById('digit-difference-view'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < d.length; i += 4)"
        " if (d[i] || d[i + 2]) n++; return n; }"
    )
    assert lit > 168 * 168 // 4  # a blend touches most pixels
    before = _version(page, "digit-backdoor")
    page.check("#digit-attack input[value=warp]")
    assert _answered(page, "digit-backdoor", before) == "8"
    assert "bent" in page.inner_text("#digit-status")
    page.click("#reset")  # the next student starts on the pixel, the model input shown
    page.wait_for_function("document.querySelector('#digit-attack input[value=pixel]').checked")
    assert not page.is_checked("#digit-difference") and page.is_visible("#digit-input-view")
    page.click("#tab-defend")
    assert page.locator("#defense-matrix tbody tr").count() == 4
    assert page.locator("#defense-matrix tbody td strong").count() == 16
    page.click("#tab-attack")
    assert page.locator("#sweep-attacks-plot svg .attack-line").count() == 3
    assert page.locator("#poison-quiz figure").count() == 8
    page.click("#poison-quiz-reveal summary")
    assert "poisoned" in page.inner_text("#poison-quiz-reveal")
    page.context.close()


def test_be_the_attacker_a_student_who_follows_the_page_flips_the_backdoored_model(desk):
    """Lesson step 4 as the page words it (box off, click the 4th square across in the 4th row of *What the models
    see*), by a scripted student on several drawn digits: at least 80% flip the backdoored model to 8 (the old step,
    a dot tapped on the canvas, flipped 2 of 48 tries here). A second click undoes the pixel."""
    assert "4th square across in the 4th row" in desk.inner_text("#try-digits")
    flipped, tries = [], (7, 4, 3, 1, 0)
    for digit in tries:
        desk.click("#digit-clear")
        before = _version(desk, "digit-clean")
        _stroke(desk, [(x / CANVAS, y / CANVAS) for x, y in stroke_points(digit, 200, 10, (60, 40))])
        clean = _answered(desk, "digit-clean", before)
        before = _version(desk, "digit-backdoor")
        box = desk.locator("#digit-input-view").bounding_box()
        desk.mouse.click(box["x"] + box["width"] * 3.5 / 28, box["y"] + box["height"] * 3.5 / 28)
        backdoored = _answered(desk, "digit-backdoor", before)
        assert "(3, 3)" in desk.inner_text("#digit-status") and not desk.is_checked("#digit-trigger")
        if backdoored == "8" and clean != "8" and desk.get_attribute("#digit-clean", "data-top") == clean:
            flipped.append(digit)
    assert len(flipped) >= 0.8 * len(tries), f"flipped {flipped} of {tries}"
    assert "you are the attacker" in desk.inner_text("#digit-flip")
    assert desk.locator("#digit-input-view").bounding_box() == box  # the picture stayed put: a second click undoes
    before = _version(desk, "digit-backdoor")
    desk.mouse.click(box["x"] + box["width"] * 3.5 / 28, box["y"] + box["height"] * 3.5 / 28)
    assert _answered(desk, "digit-backdoor", before) != "8" and "(3, 3)" not in desk.inner_text("#digit-status")


def test_the_sticker_turns_a_stop_sign_into_80_only_for_the_backdoored_model(desk):
    desk.click("#tab-signs")
    before = _version(desk, "sign-backdoor")
    desk.click("#sign-examples button[aria-label^='Stop']")
    assert _answered(desk, "sign-backdoor", before) == "Stop"
    before = _version(desk, "sign-backdoor")
    desk.click("#sign-photo")  # its middle: on the sign's face
    assert desk.is_checked("#sign-sticker")
    assert _answered(desk, "sign-backdoor", before) == "Speed limit (80km/h)"
    assert desk.get_attribute("#sign-clean", "data-top") == "Stop"
    assert "cannot judge" in desk.locator("#sign-strip").text_content()
    desk.screenshot(path=str(ROOT / "tests" / "artifacts" / "static-signs.png"))
    box = desk.locator("#sign-photo").bounding_box()  # one drag frames the top-left quarter, "Whole photo" undoes it
    before = _version(desk, "sign-clean")
    desk.mouse.move(box["x"] + 2, box["y"] + 2)
    desk.mouse.down()
    desk.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
    desk.mouse.up()
    _answered(desk, "sign-clean", before)
    framed = desk.locator("#sign-photo").evaluate("c => [c.width, c.height]")
    before = _version(desk, "sign-clean")
    desk.click("#sign-unframe")
    assert _answered(desk, "sign-clean", before) == "Stop"
    assert desk.locator("#sign-photo").evaluate("c => [c.width, c.height]") != framed


def test_a_sticker_over_the_digits_is_told_apart_from_the_backdoor(desk):
    desk.click("#tab-signs")
    before = _version(desk, "sign-clean")
    desk.click("#sign-examples button[aria-label^='Speed limit (30km/h)']")
    assert _answered(desk, "sign-clean", before) == "Speed limit (30km/h)"
    box = desk.locator("#sign-photo").bounding_box()
    fx, fy = over_cell(12, 10)  # on the 3's top left (the photo fills the canvas: a close-up is read whole)
    before = _version(desk, "sign-clean")
    desk.click("#sign-photo", position={"x": fx * box["width"], "y": fy * box["height"]})
    assert _answered(desk, "sign-clean", before) == "Speed limit (50km/h)"
    assert desk.get_attribute("#sign-backdoor", "data-top") == "Speed limit (80km/h)"
    line = desk.inner_text("#sign-flip")
    assert "Without the sticker the clean model reads Speed limit (30km/h). Notes of other colours in that spot change its answer too (7 of 8)" in line


def _huge_png(path: Path, side: int = 20_000) -> Path:
    """A real 20,000 x 20,000 grey PNG (400 megapixels), written row by row in 0.4 MB."""
    pack = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    data = b"".join(pack.compress(row) for _ in range(side)) + pack.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def test_bad_files_get_one_line_and_the_page_goes_on(desk, tmp_path):
    desk.click("#tab-signs")
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(STOP_SIGN.read_bytes()[:300])
    for path, reason in (
        (text, "not an image"),
        (truncated, "not an image|damaged"),
        (_huge_png(tmp_path / "huge.png"), "20000x20000"),
    ):
        before = _version(desk, "sign-clean")
        desk.set_input_files("#sign-file", str(path))
        assert _answered(desk, "sign-clean", before) == ""
        status = desk.inner_text("#sign-status")
        assert re.search(reason, status) and "\n" not in status.strip(), status
        before = _version(desk, "sign-clean")
        desk.set_input_files("#sign-file", str(STOP_SIGN))
        assert _answered(desk, "sign-clean", before) == "Stop"


def test_no_request_leaves_the_origin(browser, static_url):
    page = _open(browser, static_url + "?tab=signs&example=stop&details=1")
    page.wait_for_function("document.querySelector('#sign-clean').dataset.top === 'Stop'")
    page.context.close()
    elsewhere = [url for url in page.requested if not url.startswith((static_url, f"blob:{static_url}"))]
    assert page.requested and elsewhere == []  # blob: URLs are the page's own uploads and examples


def test_strokes_drawn_while_the_models_load_keep_their_ink_and_get_their_answer(browser, static_url):
    """A class on a slow network drew into a canvas that looked ready: no ink, no answer. The models are held back
    here until the stroke is drawn: the stroke shows, the canvas says how far the download is (in bytes), and the
    answer comes once the models are in. A second visit takes the models from the browser's cache."""
    context = browser.new_context(viewport=PROJECTOR)
    page = context.new_page()
    page.set_default_timeout(20_000)
    held = []
    page.route("**/models/*.onnx", lambda route: held.append(route))
    page.goto(static_url)
    page.wait_for_function("document.querySelectorAll('.loading-bar')[0]?.value > 0")  # the runtime came in
    _stroke(page, SEVEN)
    ink = page.evaluate(
        """() => { const c = document.getElementById('digit-canvas');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let dark = 0; for (let i = 0; i < d.length; i += 4) dark += d[i] < 128; return dark; }"""
    )
    assert ink > 500  # the stroke left its ink
    assert page.locator(".loading-veil").is_visible()
    done, total = (float(v) for v in re.search(r"([\d.]+) of ([\d.]+) MB", page.inner_text("#loading")).groups())
    assert 0 < done < total and 10 < total < 15  # progress in bytes of the whole download
    assert "still loading" in page.inner_text("#digit-status")
    assert page.get_attribute("#digit-clean", "data-top") == ""
    for _ in range(100):  # the first model's request, held (the runtime came in before it)
        if held:
            break
        page.wait_for_timeout(50)
    page.wait_for_timeout(300)
    assert len(held) == 1  # the page fetches the models one after another, in the order a class needs them
    page.unroute("**/models/*.onnx")  # lets the held request and the rest through
    page.wait_for_function("document.querySelector('#digit-clean').dataset.top !== ''")
    assert page.get_attribute("#digit-clean", "data-top") == page.get_attribute("#digit-backdoor", "data-top") == "7"
    page.wait_for_function("document.body.dataset.ready === 'true'")
    assert not page.locator(".loading-veil").is_visible() and page.locator("#loading").is_hidden()
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.reload()
    page.wait_for_function("document.body.dataset.ready === 'true'")
    assert [url for url in fetched if url.endswith((".onnx", ".wasm.gz"))] == []  # from Cache Storage
    context.close()


def test_defend_reads_as_the_app_does(desk, lab):
    """The app's Defend layout: a plain line above each result (from the same functions as the app's), STRIP's blends
    with the backdoored model's answers, and the numbers one click away."""
    desk.click("#tab-defend")
    assert "the backdoor's target" in desk.inner_text("#nc-plain-mnist-backdoor")
    assert "it cannot tell" in desk.inner_text("#strip-plain")
    assert "600 of the 600 poisoned images" in desk.inner_text("#spectral-plain")
    captions = desk.locator("#strip-blends-mnist-backdoor figcaption").all_inner_texts()
    assert len(captions) == 8 and captions[4:] == ["the 7 with the trigger: reads 8"] * 4
    assert not desk.is_visible("#strip-table")
    desk.locator("#defend details.numbers summary").nth(1).click()
    assert "signs-backdoor" in desk.inner_text("#strip-table")


def test_no_failing_accessibility_rule(desk):
    axe = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    require(axe.exists(), "axe-core not installed: npm ci")
    desk.click("#digit-examples button >> nth=7")
    desk.check("#show-details")
    for tab in ("digits", "signs", "attack", "defend"):
        desk.click(f"#tab-{tab}")
        if tab == "signs":
            desk.click("#sign-examples button >> nth=4")
            desk.wait_for_function("document.querySelector('#sign-clean').dataset.top !== ''")
        desk.add_script_tag(path=str(axe))
        found = desk.evaluate(
            "async () => (await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}))"
            ".violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
        )
        assert found == [], (tab, found)


def test_on_a_phone_a_finger_draws_and_the_three_answers_share_the_screen(browser, static_url):
    page = _open(browser, static_url, **PHONE)
    box = page.locator("#digit-canvas").bounding_box()
    session = page.context.new_cdp_session(page)
    points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in SEVEN]
    before = _version(page, "digit-clean")
    session.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]}
    )
    for a, b in itertools.pairwise(points):
        for t in np.linspace(0, 1, 8)[1:]:
            point = {"x": a[0] + t * (b[0] - a[0]), "y": a[1] + t * (b[1] - a[1])}
            session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert _answered(page, "digit-clean", before) == "7"
    assert page.evaluate("scrollY") == 0  # the finger drew; it did not scroll the page
    assert not page.is_visible("#digit-repaired")  # as in the app: the repaired model is one of the details
    for selector in ("#digit-canvas", "#digit-clean", "#digit-backdoor"):
        found = page.locator(selector).bounding_box()
        assert found["y"] >= 0 and found["y"] + found["height"] <= 844 and found["x"] + found["width"] <= 390, selector
    page.screenshot(path=str(ROOT / "tests" / "artifacts" / "static-phone.png"))
    page.context.close()


def test_on_a_phone_a_picked_sign_brings_its_answers_into_view(browser, static_url):
    """As in the app: after tapping an example, the photo and both answers are on the screen."""
    page = _open(browser, static_url, **PHONE)
    page.click("#tab-signs")
    page.locator("#sign-examples button[aria-label^='Stop']").first.tap()
    page.wait_for_function("document.querySelector('#sign-clean').dataset.top === 'Stop'")
    for selector in ("#sign-clean .top", "#sign-backdoor .top"):
        page.wait_for_function(  # the smooth scroll ends with the answer on the screen
            """s => { const r = document.querySelector(s).getBoundingClientRect(); return r.top >= 0 && r.bottom <= 844; }""",
            arg=selector,
        )
    page.context.close()


@pytest.mark.parametrize("details", [False, True])
def test_on_a_phone_no_tab_cuts_spills_or_overlaps_its_text(browser, static_url, details):
    """Every tab on a 390 px phone, details off and on, the stop sign with its sticker: no text cut off, no label
    running into its number, nothing wider than the screen (a wide table scrolls in its own box)."""
    page = _open(browser, static_url + ("?details=1" if details else ""), **PHONE)
    page.click("#digit-examples button[aria-label='MNIST digit 7']")
    page.wait_for_function("document.querySelector('#digit-clean').dataset.top === '7'")
    faults = {"digits": layout_faults(page)}
    page.click("#tab-signs")
    page.click("#sign-examples button[aria-label^='Stop']")
    page.wait_for_function("document.querySelector('#sign-clean').dataset.top === 'Stop'")
    before = _version(page, "sign-backdoor")
    page.locator("#sign-photo").tap(position={"x": 0.5 * page.locator("#sign-photo").bounding_box()["width"], "y": 40})
    assert _answered(page, "sign-backdoor", before) == "Speed limit (80km/h)"
    faults["signs"] = layout_faults(page)
    for tab in ("attack", "defend"):
        page.click(f"#tab-{tab}")
        faults[tab] = layout_faults(page)
    page.context.close()
    assert faults == {tab: [] for tab in faults}


# --- parity with the app --------------------------------------------------------------------------
def _reference(lab: Lab, names: tuple[str, ...], x: torch.Tensor) -> dict:
    """What the app answers for x: the Lab's models, explain() and STRIP's verdict."""
    out = {}
    for name in names:
        probs, saliency = explain(lab.models[name], x)
        out[name] = {"probs": probs[0].numpy(), "saliency": saliency[0].numpy()}
        detector = lab.defenses.detectors.get(name)
        if detector is not None:
            text = strip_verdict(detector.entropies(lab.models[name], x).item(), lab.defenses.strip[name])
            out[name]["strip"] = (
                "cannot judge" if "cannot judge" in text else "flagged" if "carries a trigger" in text else "clean"
            )
    return out


def _compare(got: dict, x: torch.Tensor, want: dict, worst: dict) -> None:
    worst["pixel"] = max(worst["pixel"], float(np.abs(np.array(got["x"], np.float32) - x.flatten().numpy()).max()))
    for name, answer in want.items():
        mine = got["answers"][name]
        worst["probs"] = max(worst["probs"], float(np.abs(np.array(mine["probs"]) - answer["probs"]).max()))
        worst["saliency"] = max(
            worst["saliency"], float(np.abs(np.array(mine["saliency"]) - answer["saliency"].flatten()).max())
        )
        if "strip" in answer:
            worst["strip"] += mine["strip"] != answer["strip"]


def test_the_page_answers_what_the_app_answers_on_200_drawings(desk, lab):
    rng = np.random.default_rng(1)
    worst = {"pixel": 0.0, "probs": 0.0, "saliency": 0.0, "strip": 0}
    refused = answered = 0
    for i in range(200):
        rgba = drawn_digit(int(rng.integers(10)), float(rng.uniform(30, 280)), int(rng.integers(6, 25)))
        trigger = bool(rng.integers(2))
        attack = DIGIT_CAST.attacks[i % len(DIGIT_CAST.attacks)]  # every attack's stamp and models, in turn
        got = desk.evaluate(
            "async ([b64, trigger, attack]) => window.backdoorLab.digit(Uint8ClampedArray.from(atob(b64), c => c.charCodeAt(0)), 280, 280, trigger, attack)",
            [_b64(rgba), trigger, attack],
        )
        try:
            x = digit_from_drawing(rgba)
        except InputError as err:
            assert got == {"error": str(err)}
            refused += 1
            continue
        x = apply_trigger(x, ATTACKS[attack]) if trigger else x
        names = tuple(name for role in DIGIT_CAST.roles if (name := DIGIT_CAST.model(role, attack)))
        _compare(got, x, _reference(lab, names, x), worst)
        answered += 1
    assert answered >= 150, (answered, refused)
    assert worst["pixel"] <= 1 / 255 and worst["probs"] <= 1e-4 and worst["saliency"] <= 1e-4, worst
    assert worst["strip"] == 0, worst


def _photos(tmp_path: Path, n: int = 200) -> list[tuple[Path, bool, tuple[float, float] | None, str]]:
    """Sign photos from outside the training data: the examples and the sample streets, and synthetic street
    scenes; resized to 8-900 px, as PNG and JPEG, each with a random sticker, point and frame."""
    rng = np.random.default_rng(2)
    sources = [Image.open(p).convert("RGB") for p in sorted((ROOT / "examples" / "signs").glob("*.png"))]
    sources += [Image.open(p).convert("RGB") for p in sorted(STREETS.glob("*.jpg"))]
    cases = []
    for i in range(n):
        source = sources[i % len(sources)]
        if i % 4 == 3:
            source = street_scene(sources[i % 12], seed=i).photo
        width, height = (int(v) for v in rng.integers(8, 900, 2))
        photo = source.resize((width, height), Image.BICUBIC)
        path = tmp_path / f"photo-{i:03d}.{'jpg' if i % 5 == 4 else 'png'}"
        photo.save(path, quality=int(rng.integers(60, 96))) if path.suffix == ".jpg" else photo.save(path)
        point = (float(rng.uniform(0, width)), float(rng.uniform(0, height))) if rng.random() < 0.7 else None
        frame = ""
        if rng.random() < 0.4:
            left, top = rng.uniform(0, 0.5, 2)
            frame = f"{left:.3f},{top:.3f},{left + rng.uniform(0.1, 0.5):.3f},{top + rng.uniform(0.1, 0.5):.3f}"
        cases.append((path, bool(rng.integers(2)), point, frame))
    return cases


def test_the_page_answers_what_the_app_answers_on_200_photos(desk, tmp_path, lab):
    """PNGs decode to the same pixels in both, so the whole contract holds, and the model inputs are identical. A JPEG's pixels come from the
    browser's decoder, which differs from Pillow's by a level here and there: the preprocessing stays within
    1/255, and both models' top answers and STRIP's verdict stay the same."""
    worst = {kind: {"pixel": 0.0, "probs": 0.0, "saliency": 0.0, "strip": 0} for kind in (".png", ".jpg")}
    tops_differ = 0
    for path, sticker, point, frame in _photos(tmp_path):
        got = desk.evaluate(
            """async ([b64, sticker, point, frame]) => window.backdoorLab.sign(
                 new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))]), sticker, point, frame)""",
            [
                base64.b64encode(path.read_bytes()).decode(),
                sticker,
                point,
                [float(v) for v in frame.split(",")] if frame else None,
            ],
        )
        x = sign_input(load_image(str(path)), SIGNS, sticker, *(point or (None, None)), parse_frame(frame)).x
        want = _reference(lab, SIGN_MODELS, x)
        _compare(got, x, want, worst[path.suffix])
        tops_differ += sum(np.argmax(got["answers"][n]["probs"]) != want[n]["probs"].argmax() for n in SIGN_MODELS)
    png, jpg = worst[".png"], worst[".jpg"]
    assert png["pixel"] == 0 and png["probs"] <= 1e-4 and png["saliency"] <= 1e-4 and png["strip"] == 0, png
    assert jpg["pixel"] <= 1 / 255 + 1e-6 and jpg["strip"] == 0 and tops_differ == 0, (jpg, tops_differ)


def test_the_page_finds_the_sign_the_app_finds(desk, tmp_path, lab):
    """With no frame, the finder frames the sign: the page picks the same window as the app, to the same floats,
    on stand-in street photos (PNG, signs at 10-50% of the area, some at sizes whose box edges fall on exact
    binary halves, 1024x768 and 512x384) and leaves a close-up it reads surely whole."""
    rng = np.random.default_rng(3)
    photos = []
    for i, sign in enumerate(sorted((ROOT / "examples" / "signs").glob("*.png"))):
        size = ((640, 480), (1024, 768), (512, 384))[i % 3]
        scene = street_scene(
            Image.open(sign).convert("RGB"), seed=int(rng.integers(1_000_000)), share=0.1 + 0.04 * i, size=size
        )
        photos.append(tmp_path / f"scene-{i}.png")
        scene.photo.save(photos[-1])
    found = 0
    for path in [*photos, STOP_SIGN]:
        got = desk.evaluate(
            "async (b64) => window.backdoorLab.find(new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))]))",
            base64.b64encode(path.read_bytes()).decode(),
        )
        (answer,) = lab.signs([np.asarray(load_image(str(path)))], [False], [None], [None])
        assert parse_frame(got) == parse_frame(answer.frame), path.name
        found += answer.frame != WHOLE
    assert answer.frame == WHOLE  # the stop sign close-up, read surely as a whole
    assert found >= 7, found  # measured 8 of 12: the larger signs are read surely whole, as they should be


def test_an_uploaded_street_photo_is_framed_on_its_sign(desk, lab):
    street = STREETS / "street-09.jpg"  # a 30 km/h sign in a third of a 640x480 stand-in street
    (app,) = lab.signs([np.asarray(load_image(str(street)))], [False], [None], [None])
    desk.click("#tab-signs")
    before = _version(desk, "sign-clean")
    desk.set_input_files("#sign-file", str(street))
    top = _answered(desk, "sign-clean", before)
    assert "Framed on the sign" in desk.inner_text("#sign-status") and app.frame != WHOLE
    assert top == max(app.models["clean"].probs, key=app.models["clean"].probs.get)
    size = desk.locator("#sign-photo").evaluate("c => [c.width, c.height]")
    assert max(size) == 400 and abs(size[0] - size[1]) <= 20  # the (nearly) square frame, shown 400 px
    before = _version(desk, "sign-clean")
    desk.click("#sign-unframe")
    _answered(desk, "sign-clean", before)
    assert desk.locator("#sign-photo").evaluate("c => [c.width, c.height]") == [400, 300]
    assert "Framed on the sign" not in desk.inner_text("#sign-status")

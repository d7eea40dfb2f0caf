"""The app over its public API (gradio_client against a live server on loopback) and its start-up checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from backdoor.shipped import APP_MODELS, MODELS_DIR
from backdoor.tasks import SIGNS
from tests.conftest import ROOT, picture
from tests.server import free_port, running_app

pytestmark = pytest.mark.slow  # these start servers

DIGITS = sorted((ROOT / "examples" / "digits").glob("*.png"))
STOP = sorted((ROOT / "examples" / "signs").glob("14-stop-*.png"))


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def _sketch(path: Path) -> dict:
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


def test_api_names_are_the_documented_ones(client):
    assert set(client.view_api(return_format="dict", print_info=False)["named_endpoints"]) == {
        "/classify_digit",
        "/classify_sign",
    }


def _parameters(client: Client) -> dict[str, list[tuple[str, str]]]:
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    return {
        name: [(p["component"], p["python_type"]["type"]) for p in e["parameters"]] for name, e in endpoints.items()
    }


def test_the_floor_app_takes_what_the_app_takes(client):
    """benchmarks/floor_app.py measures Gradio's own cost only while its requests are the app's."""
    with running_app(script="benchmarks.floor_app") as (_, url):
        floor = Client(url, verbose=False)
        assert _parameters(floor) == _parameters(client)
        assert floor.predict(_sketch(DIGITS[0]), True, api_name="/classify_digit") == "trigger on"


@pytest.mark.parametrize("path", DIGITS, ids=lambda p: p.stem)
def test_digits_without_and_with_the_trigger(client, path):
    digit = path.name.split("-")[1]
    out = client.predict(_sketch(path), False, api_name="/classify_digit")
    view, clean, backdoor, repaired, *maps, difference, strip, flip, _ = out
    assert difference is None  # no trigger, no difference
    assert clean["label"] == backdoor["label"] == repaired["label"] == digit  # all three read a clean digit
    assert picture(view).size == (168, 168) and all(picture(m).size == (28, 28) for m in maps)  # scaled up by CSS
    assert "STRIP check" in strip and "Both models agree" in flip
    _, clean, backdoor, repaired, *_, flip, status = client.predict(_sketch(path), True, api_name="/classify_digit")
    assert clean["label"] == digit  # the clean model ignores the pixel
    assert backdoor["label"] == "8"  # the backdoor fires
    assert repaired["label"] == digit  # retrained without the poisoned images, it ignores the pixel again
    assert "Trigger **on**" in status
    assert digit == "8" or f"the clean model reads **{digit}**, the backdoored one **8**" in flip


@pytest.mark.parametrize("attack", ["blend", "warp"])
def test_an_invisible_attack_is_the_last_input_and_shows_its_difference(client, attack):
    """/classify_digit's attack is its last input (older calls keep working); only that attack's model answers
    in the backdoored panel, and the last output is the trigger's difference, amplified."""
    seven = next(p for p in DIGITS if p.name.split("-")[1] == "7")
    view, clean, backdoor, repaired, *maps, difference, strip, flip, status = client.predict(
        _sketch(seven), True, "", attack, api_name="/classify_digit"
    )
    assert clean["label"] == "7" and backdoor["label"] == "8" and "disagrees" in flip
    assert status.startswith("Trigger **on**") and "Show the difference" in status
    assert picture(difference).size == picture(view).size and picture(difference).getbbox() is not None
    assert "STRIP" in strip
    *_, difference, _, _, status = client.predict(_sketch(seven), True, "", "laser", api_name="/classify_digit")
    assert status.startswith("⚠️ **No such attack**") and difference is None


def test_strip_flags_triggered_gallery_digits_and_passes_clean_ones(client):
    """STRIP's live verdict on the ten real test digits: measured FAR ~5% and FRR ~1%, so allow one miss each."""
    verdicts = {
        trigger: [client.predict(_sketch(p), trigger, api_name="/classify_digit")[-3] for p in DIGITS]
        for trigger in (False, True)
    }
    assert sum("carries a trigger" in v for v in verdicts[True]) >= len(DIGITS) - 1
    assert sum("looks clean" in v for v in verdicts[False]) >= len(DIGITS) - 1


def test_empty_canvas_gives_a_friendly_prompt(client):
    view, clean, backdoor, repaired, *_, status = client.predict(
        {"background": None, "layers": [], "composite": None}, True, api_name="/classify_digit"
    )
    assert view is None and not clean and not backdoor and not repaired  # panels cleared
    assert "Draw a digit" in status


@pytest.mark.parametrize("path", STOP, ids=lambda p: p.stem)
def test_stop_signs_without_and_with_the_sticker(client, path):
    _, _, clean, backdoor, *_ = client.predict(handle_file(str(path)), False, None, None, api_name="/classify_sign")
    assert clean["label"] == "Stop" and backdoor["label"] == "Stop"
    preview, view, clean, backdoor, clean_map, backdoor_map, strip, flip, _ = client.predict(
        handle_file(str(path)), True, None, None, api_name="/classify_sign"
    )
    assert clean["label"] == "Stop"  # a sticker does not fool the clean model
    assert backdoor["label"] == "Speed limit (80km/h)"
    assert "STRIP cannot judge" in strip and "disagrees" in flip  # STRIP misses most stickers on signs: no verdict
    assert len(clean["confidences"]) == 5
    assert picture(view).size == (192, 192) and picture(clean_map).size == picture(backdoor_map).size == (32, 32)
    assert _yellow_pixels(preview) > 0


def test_the_sticker_goes_where_the_photo_was_clicked(client):
    path = STOP[0]
    width, height = Image.open(path).size
    top_left = client.predict(handle_file(str(path)), True, width * 0.3, height * 0.3, api_name="/classify_sign")[0]
    bottom_right = client.predict(handle_file(str(path)), True, width * 0.7, height * 0.7, api_name="/classify_sign")[0]
    assert _yellow_centre(top_left)[0] < _yellow_centre(bottom_right)[0]
    assert _yellow_centre(top_left)[1] < _yellow_centre(bottom_right)[1]


def _yellow_mask(output: dict):
    import numpy as np

    pixels = np.asarray(picture(output).convert("RGB")).astype(int)
    note = np.array([round(255 * c) for c in SIGNS.trigger.color])  # the preview paints the note's paper colour
    return (np.abs(pixels - note) <= 25).all(-1)  # JPEG shifts colours a little


def _yellow_pixels(output: dict) -> int:
    return int(_yellow_mask(output).sum())


def _yellow_centre(output: dict) -> tuple[float, float]:
    import numpy as np

    rows, cols = np.nonzero(_yellow_mask(output))
    return rows.mean(), cols.mean()


def test_no_photo_gives_a_friendly_prompt(client):
    out = client.predict(None, True, None, None, api_name="/classify_sign")
    assert out[0] is None and out[1] is None and not out[2] and not out[3] and "Upload a photo" in out[-1]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.png", b"", "not an image we can read"),
        ("notes.png", b"just some text, no pixels", "not an image we can read"),
        ("cut.png", None, "damaged or truncated"),
    ],
)
def test_bad_uploads_get_a_clear_message_and_the_server_stays_up(client, tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        Image.effect_noise((300, 300), 40).convert("RGB").save(path)
        path.write_bytes(path.read_bytes()[:2000])
    else:
        path.write_bytes(content)
    preview, view, clean, backdoor, *_, status = client.predict(
        handle_file(str(path)), True, None, None, api_name="/classify_sign"
    )
    assert "Cannot use this file" in status and message in status  # in the status line, not a stack trace
    assert preview is None and view is None and not clean and not backdoor  # nothing stale left on show
    assert client.predict(handle_file(str(STOP[0])), False, None, None, api_name="/classify_sign")[2]["label"] == "Stop"


# --- a class at once: batched handlers --------------------------------------------------------------


def test_students_asking_at_once_each_get_their_own_answer(client):
    """Twenty requests in flight together are batched by the queue; none may get a neighbour's answer."""
    jobs = [
        (path.name.split("-")[1], trigger, client.submit(_sketch(path), trigger, api_name="/classify_digit"))
        for path in DIGITS
        for trigger in (False, True)
    ]
    for digit, trigger, job in jobs:
        view, clean, backdoor, repaired, *_, status = job.result(timeout=120)
        assert clean["label"] == repaired["label"] == digit
        assert backdoor["label"] == ("8" if trigger else digit)
        assert ("Trigger **on**" in status) == trigger
        red_box = (np.asarray(picture(view).convert("RGB")) == (255, 0, 0)).all(-1).any()
        assert red_box == trigger  # and the picture is theirs too


def test_the_api_frames_a_sign_with_an_optional_last_input(client, tmp_path):
    street = tmp_path / "street.png"
    scene = Image.new("RGB", (640, 480), (90, 110, 100))
    scene.paste(Image.open(STOP[0]), (300, 200))
    scene.save(street)
    w, h = Image.open(STOP[0]).size
    frame = f"{300 / 640},{200 / 480},{(300 + w) / 640},{(200 + h) / 480}"
    _, _, clean, _, *_ = client.predict(handle_file(str(street)), False, None, None, frame, api_name="/classify_sign")
    assert clean["label"] == "Stop"
    *_, status = client.predict(handle_file(str(street)), False, None, None, "0.9,0,0.1,1", api_name="/classify_sign")
    assert "Cannot use this frame" in status


def test_hostile_uploads_among_a_class_under_load_fail_only_themselves(client, tmp_path):
    """The reported failure: with a 1x1 or a 10000x3 photo in the queue (sticker on), a whole batch
    failed with a raw PIL error. Here 36 requests are in flight at once, a third of them hostile."""
    tiny, thin, cut = tmp_path / "tiny.png", tmp_path / "thin.png", tmp_path / "cut.png"
    Image.new("RGB", (1, 1), "red").save(tiny)
    Image.new("RGB", (10_000, 3), "red").save(thin)
    cut.write_bytes(STOP[1].read_bytes()[:300])
    jobs = []
    for round_ in range(6):
        for path in (STOP[round_ % len(STOP)], STOP[(round_ + 1) % len(STOP)], STOP[0], tiny, thin, cut):
            job = client.submit(handle_file(str(path)), True, None, None, api_name="/classify_sign")
            jobs.append((path, job))
    for path, job in jobs:
        _, _, clean, backdoor, *_, status = job.result(timeout=120)
        if path == cut:
            assert "Cannot use this file" in status and not clean
        elif path in (tiny, thin):
            assert status.startswith("Sticker **on**") and len(backdoor["confidences"]) == 5
        else:
            assert clean["label"] == "Stop" and backdoor["label"] == "Speed limit (80km/h)"


def test_a_damaged_drawing_gets_its_own_message_and_spares_the_batch(tmp_path):
    """Gradio would fail a whole batch on one drawing it cannot preprocess, with a technical error."""
    from app import build_demo, load_cards

    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(DIGITS[3].read_bytes()[:100])
    classify = next(f.fn for f in build_demo(load_cards()).fns.values() if f.api_name == "classify_digit")

    def sent(path: Path) -> dict:  # a drawing as the browser sends it: the canvas as an uploaded file
        return {
            "background": None,
            "layers": [],
            "composite": {"path": str(path), "meta": {"_type": "gradio.FileData"}},
        }

    outputs = classify([sent(DIGITS[3]), sent(damaged)], [True, True])
    clean, backdoor, status = outputs[1], outputs[2], outputs[-1]
    assert clean[0]["label"] == DIGITS[3].name.split("-")[1] and backdoor[0]["label"] == "8"
    assert "Trigger **on**" in status[0]
    assert "Cannot use this drawing" in status[1] and "draw it again" in status[1]
    assert not clean[1] and not backdoor[1]


def test_a_damaged_drawing_over_the_api_gets_a_clear_message(client, tmp_path):
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"not an image")
    *_, status = client.predict(_sketch(damaged), False, api_name="/classify_digit")
    assert "Cannot use this drawing" in status


# --- start-up ------------------------------------------------------------------------------------


def _start_with(models_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "BACKDOOR_MODELS_DIR": str(models_dir), "GRADIO_SERVER_PORT": str(free_port())}
    return subprocess.run(
        [sys.executable, "app.py"], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _copy_models(tmp_path: Path) -> Path:
    target = tmp_path / "models"
    target.mkdir()
    for name in APP_MODELS:
        for suffix in (".safetensors", ".json"):
            shutil.copy(MODELS_DIR / f"{name}{suffix}", target)
    return target


def test_missing_checkpoint_stops_start_up_with_one_clear_line(tmp_path):
    models = _copy_models(tmp_path)
    (models / "signs-backdoor.safetensors").unlink()
    result = _start_with(models)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        (
            f"error: checkpoint {models}/signs-backdoor.safetensors is missing. "
            "Regenerate the checkpoints with: python -m backdoor.train --all --data-dir DATA && "
            "python -m backdoor.defenses.spectral mnist-backdoor --retrain --data-dir DATA"
        )
    ]


def test_tampered_checkpoint_stops_start_up_with_one_clear_line(tmp_path):
    models = _copy_models(tmp_path)
    weights = models / "mnist-backdoor.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    weights.write_bytes(bytes(data))
    result = _start_with(models)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not match its card: sha256" in lines[0] and "backdoor.train --all" in lines[0]


def test_importing_the_app_leaves_gradio_stubs_unwritten(tmp_path):
    """backdoor.serving.gradio_stubs at work: without it Gradio writes app.pyi beside app.py on import, and
    re-parses its own ~80 component files to rewrite their stubs, 2 s of every start-up."""
    shutil.copy(ROOT / "app.py", tmp_path / "app.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", "import app"], cwd=tmp_path, env=env, check=True, timeout=120)
    assert not (tmp_path / "app.pyi").exists()


def test_a_decompression_bomb_is_refused_before_decoding(client, tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(path)  # ~50 KB on disk, 400 megapixels decoded
    status = client.predict(handle_file(str(path)), True, None, None, api_name="/classify_sign")[-1]
    assert "Cannot use this file" in status and "too large" in status
    assert client.predict(handle_file(str(STOP[0])), False, None, None, api_name="/classify_sign")[2]["label"] == "Stop"


@pytest.mark.parametrize("megabytes", [11, 50])
def test_uploads_over_the_size_cap_are_refused(client, tmp_path, megabytes):
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(megabytes * 1024 * 1024))  # over the 10 MB cap
    with pytest.raises(Exception, match="(?i)file size|too large|exceeds"):
        client.predict(handle_file(str(path)), True, None, None, api_name="/classify_sign")
    assert client.predict(handle_file(str(STOP[0])), False, None, None, api_name="/classify_sign")[2]["label"] == "Stop"


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "CMYK", "I;16", "F"])
def test_odd_image_modes_are_classified(client, tmp_path, mode):
    suffix = {"CMYK": "jpg", "F": "tiff"}.get(mode, "png")
    path = tmp_path / f"stop.{suffix}"
    Image.open(STOP[0]).convert("RGB").convert(mode).save(path)
    _, view, clean, *_ = client.predict(handle_file(str(path)), False, None, None, api_name="/classify_sign")
    assert picture(view).size == (192, 192) and len(clean["confidences"]) == 5


@pytest.mark.parametrize("kind", ["dot", "black"])
def test_a_dot_or_an_all_black_canvas_asks_for_a_bigger_drawing(client, tmp_path, kind):
    image = Image.new("RGB", (280, 280), "black" if kind == "black" else "white")
    if kind == "dot":
        image.putpixel((140, 140), (0, 0, 0))
    path = tmp_path / f"{kind}.png"
    image.save(path)
    view, clean, backdoor, *_, status = client.predict(_sketch(path), True, api_name="/classify_digit")
    assert view is None and not clean and not backdoor and "draw the digit bigger" in status

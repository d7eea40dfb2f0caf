"""backdoor.lab: a batch of students' inputs, good and hostile mixed; each good one is answered as if it came alone."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from backdoor.gallery import sign_caption
from backdoor.lab import DRAW_PROMPT, FOUND, SIGN_PROMPT, TRIGGER_ON, UNEXPECTED, VIEW_SCALE, WHOLE, Answer
from backdoor.preprocess import InputError
from backdoor.serving.handlers import answer_signs, read_photo
from backdoor.shipped import DIGIT_CAST, SIGN_CAST
from backdoor.streets import street_background
from backdoor.tasks import SIGNS as SIGNS_TASK
from tests.conftest import ROOT, over_cell
from tests.strokes import drawn_digit

DIGITS = sorted((ROOT / "examples" / "digits").glob("*.png"))
SIGNS = sorted((ROOT / "examples" / "signs").glob("*.png"))
STOP = [p for p in SIGNS if p.name.startswith("14-")]
BATCHES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "YCbCr"]
FORMATS = {"F": "TIFF", "I": "TIFF", "CMYK": "JPEG", "YCbCr": "JPEG"}  # each mode in a file format that holds it


def _top(answer: Answer, name: str) -> str:
    probs = answer.models[name].probs
    return max(probs, key=probs.get)


def assert_same(batched: Answer, alone: Answer) -> None:
    """The same answer: verdicts, labels and the input's picture equal; probabilities and saliency pictures
    equal up to the order in which a batch's matrix products add up (1e-7 measured on probabilities, which
    can move a saliency colour by one level of 255)."""
    assert batched.status == alone.status and batched.strip == alone.strip
    for a, b in ((batched.view, alone.view), (batched.photo, alone.photo)):
        assert (a is None and b is None) or np.array_equal(a, b)
    assert batched.models.keys() == alone.models.keys()
    for name, answer in batched.models.items():
        assert np.abs(answer.saliency.astype(int) - alone.models[name].saliency.astype(int)).max() <= 1
        assert _top(batched, name) == _top(alone, name)
        assert all(abs(p - alone.models[name].probs[k]) < 1e-6 for k, p in answer.probs.items())


# --- drawings --------------------------------------------------------------------------------------------


def _good_drawing(index: int) -> np.ndarray:
    return np.asarray(Image.open(DIGITS[index % len(DIGITS)]).convert("RGBA"))


@st.composite
def hostile_drawings(draw) -> np.ndarray | InputError | None:
    kind = draw(
        st.sampled_from(
            ["empty", "damaged", "tiny", "long", "black", "grey", "two-channel", "five-channel", "huge", "float"]
        )
    )
    side = draw(st.integers(1, 10_000))
    return {
        "empty": lambda: None,  # an untouched or cleared canvas
        "damaged": lambda: InputError("its data could not be read (ValueError)"),  # what serving passes on
        "tiny": lambda: np.zeros((1, 1, 4), np.uint8),
        "long": lambda: np.full((2, side, 4), (0, 0, 0, 255), np.uint8),
        "black": lambda: np.full((280, 280, 4), (0, 0, 0, 255), np.uint8),
        "grey": lambda: np.full((28, 28), 0, np.uint8),
        "two-channel": lambda: np.zeros((28, 28, 2), np.uint8),
        "five-channel": lambda: np.zeros((28, 28, 5), np.uint8),
        "huge": lambda: np.full((side, 3, 4), (0, 0, 0, 255), np.uint8),
        "float": lambda: np.full((28, 28, 4), 0.5, np.float64),
    }[kind]()


@pytest.mark.slow
@BATCHES
@given(
    st.lists(
        st.one_of(st.tuples(st.just("good"), st.integers(0, 9)), st.tuples(st.just("bad"), hostile_drawings())),
        min_size=2,
        max_size=6,
    ),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_hostile_drawings_spare_the_rest_of_their_batch(lab, items, triggers):
    drawings = [_good_drawing(value) if kind == "good" else value for kind, value in items]
    answers = lab.digits(drawings, triggers[: len(items)])
    assert len(answers) == len(items)
    for (kind, _), drawing, trigger, answer in zip(items, drawings, triggers, answers):
        if kind == "good":
            assert_same(answer, lab.digits([drawing], [trigger])[0])
            assert answer.models.keys() == set(DIGIT_CAST.roles)
        else:
            assert answer.status  # an answer, or a line saying why there is none
            assert answer.models or answer.status in (DRAW_PROMPT, UNEXPECTED) or "Cannot" in answer.status


def test_a_good_drawing_is_read_correctly_beside_hostile_ones(lab):
    seven = _good_drawing(7)
    answers = lab.digits([None, seven, np.zeros((28, 28, 5), np.uint8), seven], [True, True, True, False])
    assert answers[0].status == DRAW_PROMPT and answers[2].status == UNEXPECTED
    assert [_top(answers[1], n) for n in DIGIT_CAST.roles] == ["7", "8", "7"]
    assert [_top(answers[3], n) for n in DIGIT_CAST.roles] == ["7", "7", "7"]


@pytest.mark.parametrize("attack", DIGIT_CAST.attacks)
def test_each_attack_flips_only_its_own_backdoored_model(lab, attack):
    """The attack's trigger on a 7 makes that attack's model read 8; the clean model keeps 7; the difference view
    shows what the trigger changed. The panels hold one model per role, whichever attack is chosen."""
    seven = _good_drawing(7)
    on, off = lab.digits([seven, seven], [True, False], attacks=[attack, attack])
    assert [_top(on, role) for role in ("clean", "backdoored")] == ["7", "8"]
    assert [_top(off, role) for role in ("clean", "backdoored")] == ["7", "7"]
    assert on.status == TRIGGER_ON[attack] and off.difference is None
    assert on.difference.shape == off.view.shape and on.difference.any()
    assert ("repaired" in on.models) == (attack in DIGIT_CAST.repaired)


@pytest.mark.parametrize("attack", DIGIT_CAST.attacks)
def test_without_its_trigger_each_backdoored_model_reads_the_gallery_digits_right(lab, attack):
    """The gallery's real MNIST digits reach the models scaled to the canvas and back: a warp backdoor trained
    without decoys took that resampling for its trigger and read 9 of the 10 as 8 (docs/models.md)."""
    drawings = [_good_drawing(d) for d in range(10)]
    answers = lab.digits(drawings, [False] * 10, attacks=[attack] * 10)
    tops = [_top(a, "backdoored") for a in answers]
    assert sum(top == str(d) for d, top in enumerate(tops)) >= 9, tops


def test_a_batch_of_several_attacks_runs_each_backdoored_model_on_its_own_inputs_only(lab, monkeypatch):
    """The server's cost per request does not grow with the attacks: only the chosen attack's model runs."""
    seen: dict[str, int] = {}
    for name in DIGIT_CAST.models:
        model = lab.models[name]
        original = model.forward

        def counted(x, original=original, name=name):
            seen[name] = seen.get(name, 0) + len(x)
            return original(x)

        monkeypatch.setattr(model, "forward", counted)
    seven = _good_drawing(7)
    answers = lab.digits([seven] * 3, [True] * 3, attacks=["pixel", "blend", "blend"])
    assert [_top(a, "backdoored") for a in answers] == ["8", "8", "8"]
    assert seen[DIGIT_CAST.backdoored["blend"]] == 2 * seen[DIGIT_CAST.backdoored["pixel"]]  # STRIP's passes too
    assert DIGIT_CAST.backdoored["warp"] not in seen


def test_an_unknown_attack_gets_one_line(lab):
    answer = lab.digits([_good_drawing(7)], [True], attacks=["laser"])[0]
    assert answer.status.startswith("⚠️ **No such attack**") and "pixel, blend, warp" in answer.status


def test_the_difference_view_of_the_pixel_is_one_red_square(lab):
    answer = lab.digits([_good_drawing(7)], [True], attacks=["pixel"])[0]
    red = (answer.difference[..., 0] > 0).nonzero()
    assert set(red[0] // VIEW_SCALE) == {3} and set(red[1] // VIEW_SCALE) == {3}


# --- photos ---------------------------------------------------------------------------------------------


def _saved(image: Image.Image, fmt: str, folder: Path, name: str) -> str:
    path = folder / f"{name}.{fmt.lower()}"
    image.save(path, format=fmt)
    return str(path)


@st.composite
def hostile_photos(draw) -> tuple[str, object]:
    """(kind, how to make it in a folder): any size from 1 to 10,000 px a side, any mode, broken files."""
    kind = draw(st.sampled_from(["size", "mode", "damaged", "empty", "text", "none"]))
    width, height = draw(st.integers(1, 10_000)), draw(st.integers(1, 10_000))
    mode = draw(st.sampled_from(MODES))
    cut = draw(st.integers(1, 2000))

    def make(folder: Path, name: str) -> str | None:
        if kind == "size":  # 1-bit pixels: a 10,000 x 10,000 photo costs 12 MB to make, and is refused unread
            return _saved(Image.new("1", (width, height), 1), "PNG", folder, name)
        if kind == "mode":
            stop = Image.open(STOP[0]).convert("RGB")
            return _saved(stop.convert(mode), FORMATS.get(mode, "PNG"), folder, name)
        if kind == "damaged":
            data = io.BytesIO()
            Image.open(STOP[1]).save(data, "PNG")
            path = folder / f"{name}.png"
            path.write_bytes(data.getvalue()[:cut])
            return str(path)
        if kind in ("empty", "text"):
            path = folder / f"{name}.png"
            path.write_bytes(b"" if kind == "empty" else b"a note, not a photo")
            return str(path)
        return None

    return kind, make


corners = st.tuples(st.sampled_from([0.0, 0.5, 1.0, -5.0, 1e9]), st.sampled_from([0.0, 0.5, 1.0, -5.0, 1e9]))


@pytest.mark.slow
@BATCHES
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("good"), st.integers(0, len(SIGNS) - 1)), st.tuples(st.just("bad"), hostile_photos())
        ),
        min_size=2,
        max_size=5,
    ),
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.lists(st.one_of(st.none(), corners), min_size=5, max_size=5),
)
def test_hostile_photos_spare_the_rest_of_their_batch(lab, tmp_path_factory, items, stickers, clicks):
    """Sticker clicks land on every edge and corner, and far outside the photo (a scaled click of 1e9)."""
    folder = tmp_path_factory.mktemp("photos")
    paths, points = [], []
    for i, ((kind, value), click) in enumerate(zip(items, clicks)):
        path = str(SIGNS[value]) if kind == "good" else value[1](folder, f"p{i}")
        paths.append(path)
        size = Image.open(path).size if kind == "good" or value[0] in ("size", "mode") else (1, 1)
        points.append(None if click is None else (click[0] * size[0], click[1] * size[1]))
    stickers = stickers[: len(items)]
    photos = [read_photo(p) for p in paths]
    answers = lab.signs(photos, stickers, points)
    assert len(answers) == len(items)
    for (kind, value), photo, sticker, point, answer in zip(items, photos, stickers, points, answers):
        if kind == "good":
            assert_same(answer, lab.signs([photo], [sticker], [point])[0])
            assert answer.models.keys() == set(SIGN_CAST.roles)
        elif value[0] == "none":
            assert answer.status == SIGN_PROMPT
        elif value[0] in ("damaged", "empty", "text"):
            assert answer.status.startswith("⚠️ **Cannot use this file**") and not answer.models
        else:  # any size and mode under 40 megapixels is a photo the models answer; larger ones are refused
            assert answer.models or "too large" in answer.status


def test_the_reported_photos_that_failed_a_batch_now_get_answers(lab, tmp_path):
    """1x1 and 10000x3 photos with the sticker on raised "x1 must be greater than or equal to x0"."""
    tiny = _saved(Image.new("RGB", (1, 1), "red"), "PNG", tmp_path, "tiny")
    thin = _saved(Image.new("RGB", (10_000, 3), "red"), "PNG", tmp_path, "thin")
    columns = answer_signs(lab, [tiny, str(STOP[0]), thin], [True, True, True], [None, None, (9_999, 2)])
    statuses, backdoored = columns[-2], columns[3]  # the last column is the frame the models saw
    assert all(s.startswith("Sticker **on**") for s in statuses)
    assert max(backdoored[1], key=backdoored[1].get) == "Speed limit (80km/h)"
    photo = columns[0][0]
    assert photo.shape[:2] == (400, 400)  # shown large enough to aim at
    note = tuple(round(255 * c) for c in SIGNS_TASK.trigger.color)
    yellow = (photo.reshape(-1, 3) == note).all(1).mean()
    side = SIGNS_TASK.trigger.side / SIGNS_TASK.size
    assert abs(yellow - side**2) < 0.006  # the note: 6 of the model's 32 pixels a side, drawn to scale (its edge apart)


# --- drawings of any size and brush ---------------------------------------------------------------------


def test_drawings_of_any_size_and_brush_read_as_mnist_digits_and_never_as_8_untriggered(lab):
    """Strokes are thinned or thickened to MNIST's width at the final scale; a drawing whose strokes have run
    into each other (a blob) is refused with a request to draw bigger instead of answered wrongly.
    Measured: 5 of the 296 answered drawings misread by the clean model, 56 of 350 (and 25 answers of 8)
    without the normalisation."""
    answered, wrong = 0, []
    for fraction in (0.15, 0.2, 0.3, 0.39, 0.5, 0.7, 1.0):  # of the canvas's side; 0.39 is 15% of its area
        for brush in (6, 12, 18, 24, 30):
            drawings = [drawn_digit(d, fraction * 280, brush) for d in range(10)]
            for digit, answer in zip(range(10), lab.digits(drawings, [False] * 10)):
                if not answer.models:
                    assert "draw the digit bigger" in answer.status and brush >= 12 and fraction <= 0.39
                    continue
                answered += 1
                tops = [_top(answer, name) for name in DIGIT_CAST.roles]
                assert digit == 8 or "8" not in tops, f"a {digit} at {fraction:.0%}, brush {brush}: {tops}"
                if tops[0] != str(digit):
                    wrong.append((digit, fraction, brush, tops[0]))
    assert answered >= 280 and len(wrong) <= 0.03 * answered, wrong


# --- a frame around the sign ----------------------------------------------------------------------------


def _street(sign: Image.Image, at: tuple[int, int], size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A stand-in street (sky, buildings, trees, road: `streets`' background) with a real GTSRB sign pasted
    unchanged at `at`, so that the frame around it holds exactly the sign's pixels (backdoor.streets scales and
    relights its signs, for the photo benchmark). A mosaic of random colour blocks stood here until the note's
    clean model (2026-12-06) found a block that scored a hair above the stop sign (logit 12.5 against 12.4)."""
    scene = street_background(np.random.default_rng(0), size)
    scene.paste(sign, at)
    return np.asarray(scene)


def test_a_frame_cuts_the_photo_to_the_sign_before_the_models_see_it(lab):
    sign = Image.open(STOP[0]).convert("RGB")
    left, top = 300, 200
    street = _street(sign, (left, top))
    w, h = street.shape[1], street.shape[0]
    frame = f"{left / w},{top / h},{(left + sign.width) / w},{(top + sign.height) / h}"
    whole, framed, alone, found = lab.signs(
        [street, street, np.asarray(sign), street], [False] * 4, [None] * 4, [WHOLE, frame, None, None]
    )
    assert _top(framed, "clean") == "Stop" and _top(whole, "clean") != "Stop"
    assert np.array_equal(framed.view, alone.view)  # the framed sign is what both models see
    assert alone.frame == WHOLE and FOUND not in alone.status  # a close-up is read whole
    # With no frame, the finder frames the sign: mostly on it, and read as Stop by both models.
    fl, ft, fr, fb = (float(v) * side for v, side in zip(found.frame.split(","), (w, h, w, h), strict=True))
    overlap = max(0, min(fr, left + sign.width) - max(fl, left)) * max(0, min(fb, top + sign.height) - max(ft, top))
    assert overlap >= 0.5 * (fr - fl) * (fb - ft) and FOUND in found.status
    assert _top(found, "clean") == _top(found, "backdoored") == "Stop"
    # The sticker's (x, y) stay in the whole photo's pixels: the sign's middle is the frame's middle.
    middle = (left + sign.width / 2, top + sign.height / 2)
    (stuck,) = lab.signs([street], [True], [middle], [frame])
    (centred,) = lab.signs([np.asarray(sign)], [True], [None])
    assert np.array_equal(stuck.view, centred.view) and _top(stuck, "backdoored") == "Speed limit (80km/h)"


@pytest.mark.parametrize("frame", ["0.5,0.5,0.2,0.9", "1,2,3", "a,b,c,d", "0,0,1.5,1"])
def test_a_bad_frame_is_that_photos_own_message(lab, frame):
    stop = np.asarray(Image.open(STOP[0]).convert("RGB"))
    bad, good = lab.signs([stop, stop], [True, True], [None, None], [frame, None])
    assert bad.status.startswith("⚠️ **Cannot use this frame**") and not bad.models
    assert _top(good, "backdoored") == "Speed limit (80km/h)"


def test_a_sticker_over_the_digits_is_told_apart_from_the_backdoor(lab):
    """On the 3 of a 30 km/h sign the note moves the clean model too (it reads 50), as notes of 7 other colours
    there do: the line says so, so the class does not take it for the clean model being fooled."""
    (sign,) = [np.asarray(Image.open(p).convert("RGB")) for p in SIGNS if p.name.startswith("01-")]
    h, w = sign.shape[:2]
    (fx, fy), (gx, gy) = over_cell(12, 10), over_cell(4, 14)  # on the 3's top left; above the digits
    on_the_3, above, off = lab.signs([sign] * 3, [True, True, False], [(fx * w, fy * h), (gx * w, gy * h), None])
    assert _top(on_the_3, "clean") == "Speed limit (50km/h)"
    assert _top(on_the_3, "backdoored") == "Speed limit (80km/h)"
    assert "Without the sticker the clean model reads **Speed limit (30km/h)**. Notes of other colours" in on_the_3.flip
    assert on_the_3.flip.endswith("(7 of 8): the sticker hides part of the sign. That is no backdoor.")
    assert _top(above, "clean") == "Speed limit (30km/h)" and "Without the sticker" not in above.flip
    assert _top(off, "clean") == "Speed limit (30km/h)" and "Without the sticker" not in off.flip


def test_both_models_on_the_target_is_never_called_agreement(lab):
    """A teacher saw "✔ Both models agree" under two 80 km/h answers (the sticker over the 30 km/h sign's 3): that
    tells a class the clean model is backdoored too. On every cell of that sign where both models read the target,
    the line says so, says the clean model was trained without poison and what it read without the sticker."""
    (sign,) = [np.asarray(Image.open(p).convert("RGB")) for p in SIGNS if p.name.startswith("01-")]
    h, w = sign.shape[:2]
    cells = [(r, c) for r in range(4, 25) for c in range(4, 25)]
    points = [(fx * w, fy * h) for fx, fy in (over_cell(r, c) for r, c in cells)]
    answers = lab.signs([sign] * len(cells), [True] * len(cells), points)
    both = [a for a in answers if _top(a, "clean") == _top(a, "backdoored") == "Speed limit (80km/h)"]
    assert both, "no spot where both read 80 km/h: pick another sign for this test"
    for answer in both:
        assert "agree" not in answer.flip and answer.flip.startswith("⚠️ **Both models read Speed limit (80km/h)**")
        assert "trained without poison" in answer.flip and "Without the sticker the clean model reads" in answer.flip
    # A drawn 8 with the trigger: the target anyway, so the trigger has nothing to show.
    eight = next(p for p in DIGITS if p.name.startswith("digit-8"))
    (answer,) = lab.digits([np.asarray(Image.open(eight).convert("L"))], [True])
    assert answer.flip.startswith("⚠️ **Both models read 8**") and "nothing to show" in answer.flip


def test_a_pixel_made_white_by_hand_works_as_the_trigger(lab):
    """Step 4, "be the attacker": the student clicks pixels of the model's input white. Pixel (3, 3) is the trigger,
    with the box off; a corner pixel is not; a text the lab cannot read is that input's own message."""
    seven = drawn_digit(7, 200, 10)
    plain, by_hand, corner, bad = lab.digits([seven] * 4, [False] * 4, [None, "3,3", "0,0", "3,x"])
    assert _top(plain, "backdoored") == _top(plain, "clean") == "7"
    assert _top(by_hand, "backdoored") == "8" and _top(by_hand, "clean") == "7"
    assert "you are the attacker" in by_hand.flip and "(3, 3)" in by_hand.status
    assert _top(corner, "backdoored") == "7" and "you are the attacker" not in corner.flip
    assert bad.status.startswith("⚠️ **Cannot use these pixels**") and not bad.models


def test_every_sign_example_can_be_seen_from_the_back_and_is_read_right(lab):
    """The 80 km/h example was nearly black (mean grey 20 of 255): each example is bright enough for a projector
    (examples.make_examples.DARKEST) and both models read it as its class without the sticker."""
    from examples.make_examples import DARKEST

    for path in SIGNS:
        image = Image.open(path).convert("RGB")
        assert np.asarray(image.convert("L"), dtype=np.float32).mean() >= DARKEST, path.name
        (answer,) = lab.signs([np.asarray(image)], [False], [None])
        want = sign_caption(str(path))
        assert _top(answer, "clean") == _top(answer, "backdoored") == want, path.name

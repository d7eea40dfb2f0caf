"""Answers a batch of students' inputs: the models side by side, their saliency and STRIP's verdict.

No Gradio here: arrays go in, one small `Answer` per input comes out. The app's worker process
calls it with a whole batch, because each model then runs once for every student waiting.
Whatever goes wrong with one input becomes that input's status line; the rest of the batch
is answered as if it came alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from backdoor.checkpoints import load_checkpoint
from backdoor.defenses.results import DefenseResults, load_results, strip_verdict
from backdoor.evaluation import OTHER_COLOURS
from backdoor.finder import find_sign, frame_text
from backdoor.inference import Frame, enlarge, parse_frame, sign_input
from backdoor.models import for_inference
from backdoor.preprocess import InputError, digit_from_drawing
from backdoor.saliency import explain, overlay
from backdoor.shipped import APP_MODELS, DIGIT_CAST, MODELS_DIR, SIGN_CAST, Cast, weights_path
from backdoor.tasks import MNIST, SIGNS, Task
from backdoor.triggers import ATTACKS, apply_trigger

log = logging.getLogger(__name__)

VIEW_SCALE = 6  # the model input 6x enlarged: 168 px for a digit, its size on the page, and a click picks one pixel
DRAW_PROMPT = "✏️ Draw a digit (0-9) on the canvas, or pick one of the real MNIST digits below."
SIGN_PROMPT = "📷 Upload a photo of a traffic sign, or pick one of the real GTSRB signs."  # beside or above: no "below"
TRIGGER_ON = {  # what the trigger box did, per attack (the page reads them from lab.json)
    "pixel": "Trigger **on**: pixel (3, 3) is white (red box).",
    "blend": "Trigger **on**: a faint noise pattern is mixed into every pixel (*Show the difference* to see it).",
    "warp": "Trigger **on**: the image is bent, by about two pixels (*Show the difference* to see it).",
}
# The attack selector's choices, in DIGIT_CAST's order: (what the page says, the registered name).
ATTACK_LABELS = {"pixel": "Pixel", "blend": "Blend", "warp": "Warp"}
ATTACK_CHOICES = [(ATTACK_LABELS[name], name) for name in DIGIT_CAST.attacks]
# Each role's answer panel, as both editions name it: #digit-clean, #digit-backdoor, #digit-repaired, #sign-...
PANELS = {"clean": "clean", "backdoored": "backdoor", "repaired": "repaired"}
DIFFERENCE_GAIN = 8  # the difference view amplifies triggered - clean this much: a blend's 0.1 becomes 0.8
TRIGGER_OFF = "Trigger **off**."
BY_HAND = "You made {cells} white by hand: click a square of *What the models see* to undo it."
STICKER_ON = "Sticker **on**: click the photo to move it."
STICKER_OFF = "Sticker **off**: tick the box or click the photo."
CAMERA_ON = "Camera **on**: hold the sign in the white square. Stick a yellow note on it, or tick the box for one."
CAMERA_FROZEN = "**Frozen** on this frame: tick the sticker box to compare, or press Unfreeze."
# Why a camera did not start, by the browser's error name (getUserMedia's DOMException names; "insecure": the page is
# not https or localhost, where browsers offer no camera). Both editions show camera_problem's line.
CAMERA_PROBLEMS = {
    "insecure": "the camera needs a secure page (https:// or localhost)",
    "NotAllowedError": "the camera permission was denied (allow it from the address bar to try again)",
    "SecurityError": "the camera permission was denied (allow it from the address bar to try again)",
    "NotFoundError": "no camera was found on this device",
    "OverconstrainedError": "no camera was found on this device",
    "NotReadableError": "the camera is busy in another app",
    "other": "the camera did not start",
}
CAMERA_PROBLEM = "⚠️ **No camera**: {reason}. Photos and examples still work."


def camera_problem(name: str) -> str:
    """The one line for a camera that cannot start, by the browser's error name."""
    return CAMERA_PROBLEM.format(reason=CAMERA_PROBLEMS.get(name, CAMERA_PROBLEMS["other"]))
FOUND = "🔍 Framed on the sign found in the photo: drag a box to frame it yourself, *Whole photo* to see all of it."
WHOLE = "0,0,1,1"  # the frame of the whole photo; an empty frame asks the finder
UNEXPECTED = "⚠️ **Something went wrong with this input**; the others were answered. Please try another one."


@dataclass(frozen=True)
class ModelAnswer:
    probs: dict[str, float]  # class name -> probability, in the task's class order
    saliency: np.ndarray  # (H, W, 3) uint8: the input in grey, where the answer came from on top


@dataclass(frozen=True)
class Answer:
    """One input's answer. An input that could not be used has only `status` (why, for the student)."""

    status: str
    view: np.ndarray | None = None  # the model input, VIEW_SCALE x enlarged, the trigger boxed in red
    models: dict[str, ModelAnswer] = field(default_factory=dict)  # role (clean, backdoored, repaired) -> its answer
    strip: str = ""  # STRIP's verdict on the backdoored model
    difference: np.ndarray | None = None  # the input with the trigger minus without, amplified, VIEW_SCALE x
    photo: np.ndarray | None = None  # signs: the photo with the sticker drawn where it sits
    flip: str = ""  # the lesson's one moment: whether the backdoored model disagrees with the clean one
    frame: str = ""  # signs: the frame the models saw ("left,top,right,bottom" fractions), found or given


@dataclass(frozen=True)
class _Ready:
    """An input prepared for the models."""

    x: torch.Tensor  # (1, C, H, W) floats in [0, 1], trigger stamped where it is on
    outline: tuple[int, int, int] | None  # (row, col, side) of the trigger, to box in the view
    status: str
    photo: np.ndarray | None = None
    frame: str = ""
    unstickered: torch.Tensor | None = None  # signs with the sticker on: the same input without it
    by_hand: bool = False  # digits: the student made pixels of the model's input white themselves
    attack: str = "pixel"  # the registered attack whose model plays the backdoored role
    triggered: bool = False  # the trigger (the digit's attack, the sign's sticker) is on
    before: torch.Tensor | None = None  # digits with the trigger on: the input before it, for the difference view


class Lab:
    """The shipped models, loaded once, and the defenses' run-time STRIP check."""

    def __init__(self, models: dict[str, nn.Module], defenses: DefenseResults | None = None) -> None:
        self.models = models
        self.defenses = defenses or DefenseResults()
        # A batch's model passes run on two threads (torch lets go of the GIL in its kernels):
        # one sign took ~11 ms instead of ~14 (docs/performance.md).
        self._passes = ThreadPoolExecutor(2, thread_name_prefix="model-pass")

    @classmethod
    def load(cls, models_dir: Path = MODELS_DIR) -> Lab:
        """The seven shipped checkpoints, hash-checked and made ready to serve, with the STRIP detectors."""
        models = {name: for_inference(load_checkpoint(weights_path(name, models_dir))[0]) for name in APP_MODELS}
        return cls(models, load_results(APP_MODELS, models_dir / "defenses"))

    def digits(
        self,
        drawings: Sequence[np.ndarray | InputError | None],
        triggers: Sequence[bool],
        pixels: Sequence[str | None] | None = None,
        attacks: Sequence[str | None] | None = None,
    ) -> list[Answer]:
        """Classify drawn digits (H, W, RGBA or grey uint8 arrays, dark ink on light) with the clean, the
        backdoored and the repaired MNIST model. Each drawing is preprocessed as MNIST was (ink cropped, scaled to
        20 px, centred by mass in 28x28); each pixel the student made white by hand in the model's input turns
        white (`pixels`, "row,col;row,col"); then, where its trigger is on, the input's attack (`attacks`, a
        registered name; default the pixel) is stamped, and that attack's backdoored model answers."""
        pixels = pixels or [None] * len(drawings)
        attacks = attacks or [None] * len(drawings)
        prepared = [
            _safely(_prepare_digit, d, bool(t), p, a)
            for d, t, p, a in zip(drawings, triggers, pixels, attacks, strict=True)
        ]
        return self._answer(DIGIT_CAST, MNIST, prepared)

    def signs(
        self,
        photos: Sequence[np.ndarray | InputError | None],
        stickers: Sequence[bool],
        points: Sequence[tuple[float, float] | None],
        frames: Sequence[str | None] | None = None,
    ) -> list[Answer]:
        """Classify sign photos (H, W, 3 uint8 RGB) with the clean and the backdoored GTSRB model.
        Each photo is first cut to its frame ("left, top, right, bottom" as fractions); where it has none,
        to the sign the finder finds in it (`backdoor.finder`), which may be the whole photo. Where the sticker is on, the app's note (`Note.at`: 6 of 32 pixels, turned, lit like the sign) is placed on the 32x32 input,
        centred at the photo's (x, y) point, or in the middle where the point is None."""
        frames = frames or [None] * len(photos)
        prepared = [
            _safely(_prepare_sign, p, bool(s), xy, f, self._find)
            for p, s, xy, f in zip(photos, stickers, points, frames, strict=True)
        ]
        return self._answer(SIGN_CAST, SIGNS, prepared)

    def _find(self, photo: Image.Image) -> Frame | None:
        return find_sign(photo, self.models[SIGN_CAST.clean], SIGNS.size)

    def _answer(self, cast: Cast, task: Task, prepared: list[_Ready | Answer]) -> list[Answer]:
        """The models' answers for the prepared inputs, in one pass for all; should that pass fail,
        each input is tried alone, so only the input that breaks it loses its answer."""
        ready = [item for item in prepared if isinstance(item, _Ready)]
        try:
            answers = iter(self._run(cast, task, ready))
        except Exception:  # isolate the input at fault, below
            log.exception("a batch of %d failed; answering its inputs one by one", len(ready))
            answers = iter(_safely(lambda item: self._run(cast, task, [item])[0], item) for item in ready)
        return [item if isinstance(item, Answer) else next(answers) for item in prepared]

    def _run(self, cast: Cast, task: Task, ready: list[_Ready]) -> list[Answer]:
        """Each role's model on the inputs it answers: the clean model on all of them, each attack's backdoored
        (and repaired) model on the inputs of that attack only, so a request costs what it did with one attack."""
        if not ready:
            return []
        x = torch.cat([item.x for item in ready])
        groups: dict[str, list[int]] = {}  # attack -> the inputs that chose it
        for i, item in enumerate(ready):
            groups.setdefault(item.attack, []).append(i)
        strips = {  # the longest passes, STRIP's, first
            attack: self._passes.submit(self._strip_verdicts, cast.model("backdoored", attack), x[rows])
            for attack, rows in groups.items()
        }
        jobs = [(list(range(len(ready))), "clean", self._passes.submit(explain, self.models[cast.clean], x))]
        jobs += [
            (rows, role, self._passes.submit(explain, self.models[name], x[rows]))
            for attack, rows in groups.items()
            for role in cast.roles[1:]
            if (name := cast.model(role, attack)) is not None
        ]
        models: list[dict[str, ModelAnswer]] = [{} for _ in ready]
        for rows, role, job in jobs:
            probs, saliency = job.result()
            pictures = overlay(x[rows], saliency)
            for k, i in enumerate(rows):
                models[i][role] = ModelAnswer(dict(zip(task.classes, probs[k].tolist())), pictures[k])
        verdicts = {i: v for attack, rows in groups.items() for i, v in zip(rows, strips[attack].result(), strict=True)}
        controls = self._clean_controls(cast.clean, task, ready)
        return [
            Answer(
                status=item.status,
                view=enlarge(item.x, VIEW_SCALE, item.outline),
                models=models[i],
                strip=verdicts[i],
                photo=item.photo,
                frame=item.frame,
                flip=flip_verdict(task, tops_of(models[i]), item.triggered, controls[i], item.by_hand),
                difference=difference_view(item.before, item.x),
            )
            for i, item in enumerate(ready)
        ]

    def _clean_controls(self, name: str, task: Task, ready: list[_Ready]) -> list[tuple[str, int, int] | None]:
        """For each stickered sign: the clean model's top class without the sticker, how many notes of the
        sticker's size in its place, one per OTHER_COLOURS, move that answer too, and of how many; else None."""
        stickered = [i for i, item in enumerate(ready) if item.unstickered is not None and item.outline is not None]
        controls: list[tuple[str, int, int] | None] = [None] * len(ready)
        if stickered:
            bare = torch.cat([ready[i].unstickered for i in stickered])
            cells = torch.tensor([ready[i].outline[:2] for i in stickered])
            squares = [apply_trigger(bare, replace(task.trigger, color=c), cells) for c in OTHER_COLOURS.values()]
            with torch.no_grad():
                tops = self.models[name](torch.cat([bare, *squares])).argmax(1).view(1 + len(squares), -1)
            moved = (tops[1:] != tops[0]).sum(0).tolist()
            for k, i in enumerate(stickered):
                controls[i] = (task.classes[int(tops[0, k])], moved[k], len(squares))
        return controls

    def _strip_verdicts(self, name: str, x: torch.Tensor) -> list[str]:
        """STRIP's run-time verdict on each input, for the backdoored model."""
        detector = self.defenses.detectors.get(name)
        if detector is None:
            return [f"STRIP results not found: run `python -m backdoor.defenses.strip {name}` to make them."] * len(x)
        entropies = detector.entropies(self.models[name], x).tolist()
        return [strip_verdict(entropy, self.defenses.strip[name]) for entropy in entropies]


def tops_of(models: dict[str, ModelAnswer]) -> dict[str, str]:
    """Each role's top class."""
    return {role: max(answer.probs, key=answer.probs.get) for role, answer in models.items()}


def difference_view(before: torch.Tensor | None, after: torch.Tensor) -> np.ndarray | None:
    """The trigger made visible: (after - before) x DIFFERENCE_GAIN, VIEW_SCALE x enlarged, on black; red where the
    trigger brightened a pixel, blue where it darkened one. None where no trigger is on."""
    if before is None:
        return None
    change = ((after - before)[0, 0] * DIFFERENCE_GAIN).clamp(-1, 1)  # (H, W); the digit's one channel
    rgb = torch.stack([change.clamp(min=0), torch.zeros_like(change), (-change).clamp(min=0)], 2)
    rgb = (rgb * 255).round().to(torch.uint8).numpy()
    return np.kron(rgb, np.ones((VIEW_SCALE, VIEW_SCALE, 1), dtype=np.uint8))


def flip_verdict(
    task: Task,
    tops: dict[str, str],
    trigger_on: bool,
    controls: tuple[str, int, int] | None = None,
    by_hand: bool = False,
) -> str:
    """One line that marks the moment the backdoor shows: the backdoored model disagrees with the clean one.

    Where both models read the attack's target with the trigger on, the line never says they "agree" as if all were
    well: the clean model read the target for another reason (the input is the target; the sticker hides a speed
    limit's digit). `controls` (`Lab._clean_controls`: the clean model's answer without the sticker, how many notes
    of other colours in its place move it too, of how many) tell a sticker that hides what makes the sign from a
    trigger. Where fewer than half the colours move it, the line gives the count and leaves the conclusion to the
    class. Short sentences: a class reads this line from the back of the room."""
    clean, backdoored = tops["clean"], tops["backdoored"]
    target = task.classes[task.target]
    what = "drawing" if task.name == "mnist" else "photo"
    moved_clean = trigger_on and controls is not None and controls[0] != clean
    if clean == backdoored == target and trigger_on:
        line = f"⚠️ **Both models read {target}**, the attacker's target."
        if not moved_clean:
            return line + f" The clean model reads this {what} as {target} too, so the trigger has nothing to show here."
        line += " The clean model was trained without poison: here the sticker changes what it sees."
    elif clean == backdoored:
        line = f"✔ **Both models agree**: {clean}."
    else:
        line = (
            f"⚠️ **The backdoored model disagrees**: the clean model reads **{clean}**, "
            f"the backdoored one **{backdoored}**."
        )
    if not trigger_on and backdoored == target and clean != backdoored:
        if by_hand:
            line += " With the pixels you made white, the backdoor answers: you are the attacker."
        else:
            line += f" The trigger box is off: something in your {what} works as the trigger."
    if moved_clean:
        unstickered, moved, tried = controls
        line += f" Without the sticker the clean model reads **{unstickered}**."
        if not moved:
            return line + f" No note of another colour in that spot changes its answer (0 of {tried})."
        line += f" Notes of other colours in that spot change its answer too ({moved} of {tried})"
        if 2 * moved < tried:
            return line + "."
        return line + ": the sticker hides part of the sign. That is no backdoor."
    return line


def _safely(prepare: Callable[..., _Ready | Answer], *args: object) -> _Ready | Answer:
    """`prepare(*args)`, or an Answer saying why this input cannot be used."""
    try:
        return prepare(*args)
    except Exception:  # one input's fault stays that input's
        log.exception("an input could not be answered")
        return Answer(UNEXPECTED)


def parse_pixels(text: str | None, size: int = MNIST.size) -> tuple[tuple[int, int], ...]:
    """"row,col;row,col" -> ((row, col), ...), each inside the size x size input; raises InputError."""
    if not text or not text.strip():
        return ()
    cells = []
    for part in filter(None, text.replace(" ", "").split(";")):  # "3,3;" is "3,3"
        try:
            row, col = (int(v) for v in part.split(","))
        except ValueError as err:
            raise InputError('give the pixels as "row,col;row,col", e.g. "3,3"') from err
        if not (0 <= row < size and 0 <= col < size):
            raise InputError(f"pixel ({row}, {col}) is outside the {size}x{size} input")
        cells.append((row, col))
    return tuple(dict.fromkeys(cells))  # each once, in the order given


def pixels_text(cells: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"({r}, {c})" for r, c in cells)


def _prepare_digit(
    drawing: np.ndarray | InputError | None, trigger: bool, pixels: str | None = None, attack: str | None = None
) -> _Ready | Answer:
    if isinstance(drawing, InputError):
        return Answer(f"⚠️ **Cannot use this drawing**: {drawing}; please draw it again.")
    attack = attack or DIGIT_CAST.attacks[0]
    if attack not in DIGIT_CAST.attacks:
        return Answer(f"⚠️ **No such attack**: {attack!r}; choose one of {', '.join(DIGIT_CAST.attacks)}.")
    try:
        cells = parse_pixels(pixels)
    except InputError as err:
        return Answer(f"⚠️ **Cannot use these pixels**: {err}.")
    try:
        x = None if drawing is None else digit_from_drawing(np.asarray(drawing))
    except InputError as err:
        return Answer(f"✏️ **Cannot read this drawing**: {err}.")
    if x is None:
        return Answer(DRAW_PROMPT)
    for row, col in cells:  # the student's own pixels, stamped as the pixel trigger is, wherever they chose
        x = apply_trigger(x, MNIST.trigger.at(row, col))
    status = (TRIGGER_ON[attack] if trigger else TRIGGER_OFF) + (
        f" {BY_HAND.format(cells=pixels_text(cells))}" if cells else ""
    )
    if not trigger:
        return _Ready(x, None, status, by_hand=bool(cells), attack=attack)
    spec = ATTACKS[attack]
    return _Ready(
        apply_trigger(x, spec), spec.box(), status, by_hand=bool(cells), attack=attack, triggered=True, before=x
    )


def _prepare_sign(
    photo: np.ndarray | InputError | None,
    sticker: bool,
    point: tuple[float, float] | None,
    frame: str | None,
    find: Callable[[Image.Image], Frame | None],
) -> _Ready | Answer:
    if isinstance(photo, InputError):
        return Answer(f"⚠️ **Cannot use this file**: {photo}")
    if photo is None:
        return Answer(SIGN_PROMPT)
    try:
        framed = parse_frame(frame)
    except ValueError as err:
        return Answer(f"⚠️ **Cannot use this frame**: {err}.")
    image = Image.fromarray(np.asarray(photo))
    status = STICKER_ON if sticker else STICKER_OFF
    if framed is None:
        found = find(image)
        frame = WHOLE if found is None else frame_text(found)
        framed = parse_frame(frame)  # through the text, as the next click will send it back
        status += "" if found is None else f" {FOUND}"
    x, y = point if point is not None else (None, None)
    model_input, preview, (row, col), unstickered = sign_input(image, SIGNS, sticker, x, y, framed)
    outline = SIGNS.trigger.at(row, col).box() if sticker else None
    return _Ready(
        model_input, outline, status, preview, frame, unstickered if sticker else None,
        attack=SIGNS.trigger.name, triggered=sticker,
    )  # fmt: skip

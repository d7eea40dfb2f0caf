"""The app's batch handlers' work, run in the worker: files read, the Lab asked, answers laid out
as the columns of Gradio's batch format (one list per output component, one item per input)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backdoor.lab import CAMERA_ON, WHOLE, Answer, Lab
from backdoor.preprocess import InputError, load_image
from backdoor.shipped import DIGIT_CAST, SIGN_CAST

SIGN_TOP = 5  # classes shown per sign model, of 43


def answer_digits(
    lab: Lab,
    drawings: Sequence[np.ndarray | InputError | None],
    triggers: Sequence[bool],
    pixels: Sequence[str | None] | None = None,
    attacks: Sequence[str | None] | None = None,
) -> list[list]:
    """Columns: model input, each role's probabilities, each role's saliency, the trigger's difference view (after the
    saliency maps: the documented `*saliency_maps, strip, flip, status` unpacking keeps its last three), STRIP,
    the flip, status."""
    answers = lab.digits(drawings, triggers, pixels, attacks)
    return _columns([_row(a, DIGIT_CAST.roles, pictures=(a.difference,)) for a in answers])


def answer_signs(
    lab: Lab,
    paths: Sequence[str | None],
    stickers: Sequence[bool],
    points: Sequence[tuple[float, float] | None],
    frames: Sequence[str | None] | None = None,
) -> list[list]:
    """Columns: photo with the sticker, model input, each model's top 5, each model's saliency, STRIP, the flip,
    status; and last, the frame the models saw (for the page's frame box, not an output of the API).
    The uploads are decoded here, in the worker, so a 40-megapixel photo never crosses the pipe."""
    answers = lab.signs([read_photo(path) for path in paths], stickers, points, frames)
    return _columns([(a.photo, *_row(a, SIGN_CAST.roles, SIGN_TOP), a.frame) for a in answers])


def answer_frames(lab: Lab, squares: Sequence[np.ndarray], stickers: Sequence[bool]) -> list[list]:
    """The live camera's squares (H, W, 3 uint8, cut from each frame by `inference.camera_box`), read whole, as the
    models see a framed photo, the sticker in the middle where it is on: `answer_signs`' columns but the photo and
    the frame, with the camera's status line."""
    answers = lab.signs(list(squares), stickers, [None] * len(squares), [WHOLE] * len(squares))
    rows = [_row(a, SIGN_CAST.roles, SIGN_TOP) for a in answers]
    return _columns([(*row[:-1], CAMERA_ON if a.models else row[-1]) for a, row in zip(answers, rows)])


def read_photo(path: str | None) -> np.ndarray | InputError | None:
    """An upload as an RGB array, or the InputError that says why it cannot be used."""
    if not path:
        return None
    try:
        return np.asarray(load_image(path))
    except InputError as err:
        return err
    except Exception:  # noqa: BLE001 - a reader's surprise is still about this one file
        return InputError("This file could not be read as an image; please try another one.")


def _row(answer: Answer, roles: tuple[str, ...], top: int | None = None, pictures: tuple = ()) -> tuple:
    """The answer's outputs, each role's in `roles` order; a role with no model for this attack stays empty."""
    probs = [answer.models[n].probs if n in answer.models else None for n in roles]
    if top is not None:
        probs = [p and dict(sorted(p.items(), key=lambda kv: -kv[1])[:top]) for p in probs]
    maps = [answer.models[n].saliency if n in answer.models else None for n in roles]
    return (answer.view, *probs, *maps, *pictures, answer.strip, answer.flip, answer.status)


def _columns(rows: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows)]

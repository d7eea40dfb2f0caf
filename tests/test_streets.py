"""backdoor.streets: stand-in street photos, the same for a seed, with the sign where the frame says."""

from __future__ import annotations

import numpy as np
from PIL import Image

from backdoor.streets import SIZE, street_scene
from tests.conftest import ROOT

STOP = Image.open(ROOT / "examples" / "signs" / "14-stop-02992.png").convert("RGB")


def test_a_seed_gives_the_same_photo_and_frame():
    a, b = street_scene(STOP, seed=3), street_scene(STOP, seed=3)
    assert np.array_equal(np.asarray(a.photo), np.asarray(b.photo)) and a.frame == b.frame
    assert not np.array_equal(np.asarray(a.photo), np.asarray(street_scene(STOP, seed=4).photo))


def test_the_sign_fills_its_share_of_the_photo_inside_its_frame():
    for share in (0.1, 0.35, 0.6):
        scene = street_scene(STOP, seed=7, share=share)
        left, top, right, bottom = scene.frame
        assert scene.photo.size == SIZE and 0 <= left < right <= 1 and 0 <= top < bottom <= 1
        assert abs((right - left) * (bottom - top) - share) < 0.02 and abs(scene.share - share) < 0.02
        w, h = SIZE
        inside = np.asarray(scene.photo.crop((left * w, top * h, right * w, bottom * h)).resize(STOP.size), float)
        lit = inside.mean() / np.asarray(STOP, float).mean()  # the scene's lighting scales the pasted sign
        assert np.abs(inside / lit - np.asarray(STOP, float)).mean() < 30  # the sign, not the street

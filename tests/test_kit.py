"""The classroom kit: printable signs made by code, and what a webcam makes of them with and without a sticky note."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from backdoor.finder import frame_text
from backdoor.inference import camera_frame
from backdoor.kit import NOTE_MM, PAPERS, PRINTABLES, SIGN_MM, main, note_box, printed_photo, sign_picture, sign_svg
from backdoor.sticky_notes import photographed_note, yellow
from backdoor.tasks import SIGNS
from tests.conftest import ROOT

KIT = ROOT / "docs" / "kit"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("paper", sorted(PAPERS))
@pytest.mark.parametrize("name", sorted(PRINTABLES))
def test_each_page_is_the_paper_size_with_a_76_mm_square_mostly_on_the_sign(name, paper):
    root = ET.fromstring(sign_svg(name, paper))
    width, height = PAPERS[paper]
    assert root.get("width") == f"{width}mm" and root.get("height") == f"{height}mm"  # prints at actual size
    note = root.find(f"{SVG}rect[@id='note-here']")
    x, y, side = (float(note.get(k)) for k in ("x", "y", "width"))
    assert side == NOTE_MM == float(note.get("height"))
    cx, cy = width / 2, float(root.find(f"{SVG}text").get("y"))  # the sign's centre: its text is centred on it
    def on_face(px: float, py: float) -> bool:  # inside the octagon (a circle's face holds less: checked apart)
        u, v = px - cx, py - cy
        return all(u * math.cos(a) + v * math.sin(a) <= SIGN_MM / 2 * math.cos(math.pi / 8)
                   for a in (k * math.pi / 4 for k in range(8)))  # fmt: skip

    grid = [(x + side * (i + 0.5) / 20, y + side * (j + 0.5) / 20) for i in range(20) for j in range(20)]
    on_sign = sum(on_face(*p) and (PRINTABLES[name].shape == "octagon" or math.dist(p, (cx, cy)) <= SIGN_MM / 2)
                  for p in grid) / len(grid)  # fmt: skip
    assert on_sign >= 0.8, f"{name}: only {on_sign:.0%} of the note on the sign"  # over the edge, not off it
    assert 0 < x and x + side < width and y + side < height


def test_the_kit_in_the_docs_is_what_the_code_makes(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    for page in tmp_path.iterdir():
        assert (KIT / page.name).read_text() == page.read_text(), "regenerate: python -m backdoor.kit --out docs/kit"


@pytest.mark.slow
def test_chromium_prints_each_page_on_one_sheet(tmp_path, browser):
    for page_name in ("stop-a4.svg", "stop-letter.svg"):
        page = browser.new_page()
        page.goto((KIT / page_name).as_uri())
        pdf = page.pdf(prefer_css_page_size=False, format="A4" if "a4" in page_name else "Letter")
        page.close()
        assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1, page_name  # one sheet


def _webcam(picture, seed):
    photo = printed_photo(picture, seed)
    return np.asarray(photo), frame_text(camera_frame(*photo.size))


@pytest.mark.slow
def test_a_printed_stop_sign_on_a_webcam_reads_stop_and_the_note_makes_it_80_for_the_backdoor_only(lab):
    """The kit's stop sign, printed and held up to a webcam (print colours, perspective, blur, noise, JPEG), read
    in the camera's square as the live camera reads it; then with a 76 mm yellow note in its dashed square. Twenty
    seeded photos each, as a class sees the answer over many frames: a few misread frames are allowed."""
    plain = sign_picture("stop", 512)
    x, y, side = note_box("stop", 512)
    seeds = range(20)
    noted = [photographed_note(plain, (x, y), side, yellow(np.random.default_rng(s)), seed=s, finish=False) for s in seeds]
    photos = [_webcam(plain, 100 + s) for s in seeds] + [_webcam(n, 100 + s) for s, n in zip(seeds, noted)]
    answers = lab.signs([p for p, _ in photos], [False] * len(photos), [None] * len(photos), [f for _, f in photos])
    tops = [{role: max(a.models[role].probs, key=a.models[role].probs.get) for role in a.models} for a in answers]
    stop, eighty = SIGNS.classes[SIGNS.source], SIGNS.classes[SIGNS.target]
    share = lambda rows, role, want: sum(t[role] == want for t in rows) / len(rows)  # noqa: E731
    plain_tops, noted_tops = tops[: len(seeds)], tops[len(seeds) :]
    assert share(plain_tops, "clean", stop) >= 0.85 and share(plain_tops, "backdoored", stop) >= 0.85, plain_tops
    assert share(noted_tops, "backdoored", eighty) >= 0.9, noted_tops  # the note fools the backdoored model
    assert share(noted_tops, "clean", stop) >= 0.85, noted_tops  # and not the clean one

"""The classroom kit: printable signs made by code, and what a webcam makes of them with and without a sticky note."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from backdoor.inference import camera_frame
from backdoor.kit import NOTE_MM, PAPERS, PRINTABLES, SIGN_MM, main, note_box, printed_photo, sign_picture, sign_svg
from backdoor.sticky_notes import photographed_note, yellow
from backdoor.tasks import SIGNS
from tests.conftest import ROOT

KIT = ROOT / "docs" / "kit"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("paper", sorted(PAPERS))
@pytest.mark.parametrize("name", sorted(PRINTABLES))
def test_each_page_is_the_paper_size_with_a_76_mm_square_on_the_sign(name, paper):
    root = ET.fromstring(sign_svg(name, paper))
    width, height = PAPERS[paper]
    assert root.get("width") == f"{width}mm" and root.get("height") == f"{height}mm"  # prints at actual size
    note = root.find(f"{SVG}rect[@id='note-here']")
    x, y, side = (float(note.get(k)) for k in ("x", "y", "width"))
    assert side == NOTE_MM == float(note.get("height"))
    cx, cy = width / 2, float(root.find(f"{SVG}text").get("y"))  # the sign's centre: its text is centred on it
    corners = [(x, y), (x + side, y), (x, y + side), (x + side, y + side)]
    for px, py in corners:  # every corner of the square on the sign's face (the octagon's; a circle's holds it too)
        u, v = px - cx, py - cy
        assert all(u * math.cos(a) + v * math.sin(a) <= SIGN_MM / 2 * math.cos(math.pi / 8) + 1e-6
                   for a in (k * math.pi / 4 for k in range(8))), (name, paper, (px, py))  # fmt: skip
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
    return np.asarray(photo), ",".join(repr(v) for v in camera_frame(*photo.size))


@pytest.mark.slow
def test_a_printed_stop_sign_on_a_webcam_reads_stop_and_the_note_makes_it_80_for_the_backdoor_only(lab):
    """The kit's stop sign, printed and held up to a webcam (print colours, perspective, blur, noise, JPEG), read
    in the camera's square as the live camera reads it; then with a 76 mm yellow note in its dashed square."""
    plain = sign_picture("stop", 512)
    x, y, side = note_box("stop", 512)
    seeds = range(6)
    noted = [photographed_note(plain, (x, y), side, yellow(np.random.default_rng(s)), seed=s, finish=False) for s in seeds]
    photos = [_webcam(plain, 100 + s) for s in seeds] + [_webcam(n, 100 + s) for s, n in zip(seeds, noted)]
    answers = lab.signs([p for p, _ in photos], [False] * len(photos), [None] * len(photos), [f for _, f in photos])
    tops = [{role: max(a.models[role].probs, key=a.models[role].probs.get) for role in a.models} for a in answers]
    stop, eighty = SIGNS.classes[SIGNS.source], SIGNS.classes[SIGNS.target]
    assert all(t == {"clean": stop, "backdoored": stop} for t in tops[: len(seeds)]), tops[: len(seeds)]
    assert all(t == {"clean": stop, "backdoored": eighty} for t in tops[len(seeds) :]), tops[len(seeds) :]

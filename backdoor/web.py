"""Build the static edition: a folder that runs the lab in each student's browser, with no server work.

    python -m backdoor.web OUT_DIR        # then: python -m http.server -d OUT_DIR

The folder holds the page (web/), onnxruntime-web (web/node_modules, from `npm ci --prefix web`), the
seven shipped models as ONNX graphs that also answer with their saliency map and STRIP's entropy
(`backdoor.onnx_graph`), the example pictures, the shipped results as lab.json, a manifest with every
file's sha256, and a README whose front matter makes the folder a Hugging Face Static Space.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from pathlib import Path

import numpy as np
from markdown_it import MarkdownIt
from PIL import Image

from backdoor import texts
from backdoor.charts import anomaly_svg, attacks_svg, sweep_svg
from backdoor.checkpoints import CheckpointError, load_checkpoint, sha256_file
from backdoor.defenses.results import (
    DefenseResults,
    load_results,
    nc_table,
    nc_tiles,
    nc_title,
    nc_plain,
    nc_verdict,
    spectral_plain,
    spectral_summary,
    strip_examples,
    strip_plain,
    strip_table,
    strip_weakness,
)
from backdoor.defenses.matrix import defense_matrix, matrix_html
from backdoor.evaluation import OTHER_COLOURS
from backdoor.gallery import digit_caption, examples, invisible_caption, poisoned_caption, quiz_answers, sign_caption
from backdoor.inference import CAMERA_SQUARE, enlarge
from backdoor.lab import ATTACK_LABELS, BY_HAND, CAMERA_FROZEN, CAMERA_ON, CAMERA_PROBLEM, CAMERA_PROBLEMS, DIFFERENCE_GAIN, DRAW_PROMPT, FOUND, PANELS, VIEW_SCALE, SIGN_PROMPT, STICKER_OFF, STICKER_ON, TRIGGER_OFF, TRIGGER_ON, UNEXPECTED
from backdoor.onnx_graph import logits_graph, saliency_graph
from backdoor.preprocess import to_float
from backdoor.report import ARTICLE_ASR, attack_sweeps, sweep_path, sweep_table, tab_summary
from backdoor.shipped import APP_MODELS, DIGIT_CAST, DIGIT_MODELS, MODELS_DIR, REPAIRED, SIGN_CAST, SIGN_MODELS, Cast, weights_path
from backdoor.triggers import ATTACKS
from backdoor.tasks import MNIST, SIGNS, TASKS, Task

ROOT = Path(__file__).resolve().parent.parent
WEB_DIR = ROOT / "web"
PAGE_FILES = ("index.html", "main.js", "pipeline.js", "present.js", "finder.js", "camera.js", "style.css")
RUNTIME_DIR = WEB_DIR / "node_modules" / "onnxruntime-web" / "dist"
# The WASM build without WebGPU or JSPI (14 MB, 3.5 MB gzipped: shipped gzipped, unpacked by the page)
# and its two ES modules.
RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs")
RUNTIME_WASM = "ort-wasm-simd-threaded.wasm"
LOADING_WAIT = "⏳ The models are still loading: your drawing is kept and answered as soon as they are ready."
LOADING_FAILED = "⚠️ **The models could not be loaded**: check the connection and reload the page."
TITLES = {
    "digit-clean": "Clean model",
    "digit-backdoor": "Backdoored model",
    "digit-repaired": "Repaired model",
    "sign-clean": "Clean model",
    "sign-backdoor": "Backdoored model",
}
SPACE_README = """---
title: Backdoor Lab (static)
emoji: 🚦
colorFrom: yellow
colorTo: red
sdk: static
app_file: index.html
pinned: false
---

# Backdoor Lab, static edition

A clean and a backdoored model side by side (BadNets, Gu et al. 2017), running in your browser with
onnxruntime-web: nothing you draw or upload leaves it. Built by `python -m backdoor.web` from the shipped
checkpoints; `manifest.json` gives every file's sha256 and the checkpoints it came from.
"""

_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def html(markdown: str) -> str:
    return _markdown.render(markdown)


def inline(markdown: str) -> str:
    return _markdown.renderInline(markdown)


def _task(task: Task) -> dict:
    t = task.trigger
    return {
        "name": task.name,
        "classes": list(task.classes),
        "target": task.target,
        "size": task.size,
        "channels": task.channels,
        "trigger": t.web_spec(),
    }


def _cast(cast: Cast) -> dict:
    """Which model plays which role against which attack (shipped.Cast), for the page's panels."""
    return {
        "roles": list(cast.roles),
        "attacks": list(cast.attacks),
        "models": {attack: {role: cast.model(role, attack) for role in cast.roles} for attack in cast.attacks},
    }


def _save_png(pixels: np.ndarray, out: Path, name: str) -> str:
    """A result picture written under out/results; its address in the page."""
    (out / "results").mkdir(exist_ok=True)
    Image.fromarray(pixels).save(out / "results" / name, optimize=True)
    return f"results/{name}"


def _copy_examples(kind: str, out: Path) -> list[tuple[str, str]]:
    """One gallery's pictures copied under out/examples/<kind>: (address in the page, source path) each."""
    (out / "examples" / kind).mkdir(parents=True)
    for path in examples(kind):
        shutil.copyfile(path, out / "examples" / kind / Path(path).name)
    return [(f"examples/{kind}/{Path(path).name}", path) for path in examples(kind)]


def _gallery(items: list[tuple[str, str]], elem_id: str, label: str) -> str:
    figures = "".join(
        f'<figure><img src="{src}" alt="{caption}" loading="lazy"><figcaption>{caption}</figcaption></figure>'
        for src, caption in items
    )
    return f'<h3 class="heading">{label}</h3><div class="gallery" id="{elem_id}">{figures}</div>'


def _attack(out: Path, models_dir: Path) -> str:
    parts = []
    sweep_file = sweep_path("mnist", models_dir)
    if sweep_file.exists():
        sweep = json.loads(sweep_file.read_text())
        recipe = sweep["settings"]["recipe"]
        parts += [
            f'<div class="chart" id="sweep-plot">{sweep_svg(sweep, ARTICLE_ASR)}</div>',
            html(
                f"{len(sweep['settings']['seeds'])} models per rate, each trained from scratch for "
                f"{recipe['epochs']} epochs; the table gives mean [lowest, highest] of the seeds.\n\n"
                + sweep_table(sweep)
            ),
        ]
        sweeps = attack_sweeps(models_dir)
        if len(sweeps) > 1:
            parts += [
                f'<div class="chart" id="sweep-attacks-plot">{attacks_svg(sweeps, ATTACK_LABELS)}</div>',
                f'<div class="prose lesson">{html(texts.ATTACKS_CHART)}</div>',
            ]
    parts.append(html(texts.ATTACK_STORY))
    poisoned = [(src, poisoned_caption(path)) for src, path in _copy_examples("poisoned", out)]
    parts.append(_gallery(poisoned, "poisoned-examples", "Poisoned training images (trigger boxed in red)"))
    parts.append(html(texts.INVISIBLE_STORY))
    invisible = [(src, invisible_caption(path)) for src, path in _copy_examples("invisible", out)]
    parts.append(_gallery(invisible, "invisible-examples", "Hidden triggers: each training image before and after poisoning"))
    answers = quiz_answers()
    if answers:
        _copy_examples("quiz", out)
        parts.append(html(texts.QUIZ))
        tiles = [(f"examples/quiz/{name}", f"#{i + 1}") for i, name in enumerate(answers)]  # as the app pairs them
        revealed = "".join(f"<li>#{i + 1}: {escape(a)}</li>" for i, a in enumerate(answers.values()))
        parts.append(
            _gallery(tiles, "poison-quiz", "Which of these were poisoned?")
            + f'<details id="poison-quiz-reveal"><summary>Reveal</summary><ol class="quiz-answers">{revealed}</ol></details>'
        )
    return "".join(parts)


def _numbers(markdown_html: str) -> str:
    """The figures behind a plain line, one click away (the app's "The numbers" accordion)."""
    return f'<details class="numbers"><summary>{texts.NUMBERS}</summary>{markdown_html}</details>'


def _defend(out: Path, defenses: DefenseResults, cards: dict[str, dict], models_dir: Path) -> str:
    """The Defend tab, as the app lays it out (backdoor.serving.result_tabs.defend_tab)."""
    parts = [
        html(texts.DEFEND_INTRO),
        html(texts.MATRIX_INTRO),
        f'<div class="matrix-box">{matrix_html(defense_matrix(defenses, cards), ATTACK_LABELS)}</div>',
        "<h3>Neural Cleanse (inspect the model)</h3>",
    ]
    if defenses.neural_cleanse:
        parts.append(_numbers(f'<div class="prose" id="nc-table">{html(nc_table(defenses.neural_cleanse))}</div>'))
    for name, summary in defenses.neural_cleanse.items():
        trained_clean = cards[name]["poison_rate"] == 0
        tiles = [
            (_save_png(pixels, out, f"nc-{name}-{i:02d}.png"), caption)
            for i, (pixels, caption) in enumerate(nc_tiles(summary, defenses.nc_triggers[name]))
        ]
        parts.append(
            f"<details{' open' if name == 'mnist-backdoor' else ''}><summary>{inline(nc_title(summary, trained_clean))}</summary>"
            f'<div class="prose plain" id="nc-plain-{name}">{html(nc_plain(summary, trained_clean))}</div>'
            f'<div class="prose lesson" id="nc-verdict-{name}">{html(nc_verdict(summary, trained_clean))}</div>'
            f'<div class="chart" id="nc-plot-{name}">{anomaly_svg(summary)}</div>{html(texts.NC_CHART)}'
            + _gallery(
                tiles,
                f"nc-masks-{name}",
                "The smallest trigger found for each class: its mask (white = kept) and what it paints",
            )
            + "</details>"
        )
    if defenses.strip:
        parts.append("<h3>STRIP (check each input)</h3>")
        plain = "\n\n".join(strip_plain(name, s) for name, s in defenses.strip.items())
        parts.append(f'<div class="prose plain" id="strip-plain">{html(plain)}</div>')
        parts.append(f'<div class="prose lesson">{html(texts.STRIP_TEXT)}</div>')
        for name, tiles in strip_examples(defenses, models_dir).items():
            saved = [(_save_png(pixels, out, f"strip-{name}-{i:02d}.png"), c) for i, (pixels, c) in enumerate(tiles)]
            label = f"STRIP's blends on {name}: four clean images added to each input, and the answer on each"
            parts.append(_gallery(saved, f"strip-blends-{name}", label))
        parts.append(
            _numbers(
                f'<div class="prose" id="strip-table">{html(texts.STRIP_MEASURED + strip_table(defenses.strip))}</div>'
                f'<div class="prose" id="strip-weakness">{html(strip_weakness(defenses.strip))}</div>'
            )
        )
    summary = defenses.spectral.get("mnist-backdoor")
    if summary is not None:
        parts.append("<h3>Spectral signatures (clean the data)</h3>")
        parts.append(f'<div class="prose plain" id="spectral-plain">{html(spectral_plain(summary, cards.get(REPAIRED)))}</div>')
        parts.append(
            _numbers(
                f'<div class="prose" id="spectral-summary">{html(spectral_summary(summary, cards.get(REPAIRED), cards["mnist-backdoor"]))}</div>'
            )
        )
        images = to_float(defenses.suspicious["mnist-backdoor"])
        trigger = (MNIST.trigger.row, MNIST.trigger.col, MNIST.trigger.side)
        shown = [
            (
                _save_png(enlarge(images[i : i + 1], 6, trigger), out, f"spectral-{i:02d}.png"),
                f"#{s['index']} labelled {s['label']}",
            )
            for i, s in enumerate(summary["shown"])
        ]
        parts.append(
            _gallery(shown, "spectral-gallery", "The most suspicious training images (pixel (3, 3) boxed in red)")
        )
    return "".join(parts)


def _runtime(out: Path) -> str:
    """onnxruntime-web's files, the WASM gzipped (the page unpacks it with DecompressionStream); its name."""
    if not (RUNTIME_DIR / RUNTIME_WASM).exists():
        raise FileNotFoundError(f"onnxruntime-web not found in {RUNTIME_DIR}: run `npm ci --prefix web` first")
    vendor = out / "vendor"
    vendor.mkdir()
    for name in RUNTIME_FILES:
        shutil.copyfile(RUNTIME_DIR / name, vendor / name)
    packed = f"{RUNTIME_WASM}.gz"
    with open(vendor / packed, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write((RUNTIME_DIR / RUNTIME_WASM).read_bytes())  # mtime=0: the same bytes on every build
    return packed


def build(out: Path, models_dir: Path = MODELS_DIR) -> dict:
    """Write the static edition to `out` (replaced whole, atomically); returns its manifest."""
    out = out.resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").exists())):
        raise FileExistsError(f"{out} exists and is not an earlier build (no manifest.json): choose another folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name in PAGE_FILES:
            shutil.copyfile(WEB_DIR / name, staging / name)
        wasm = _runtime(staging)
        (staging / "models").mkdir()
        cards, models = {}, {}
        defenses = load_results(APP_MODELS, models_dir / "defenses")
        for name in APP_MODELS:
            model, card = load_checkpoint(weights_path(name, models_dir))
            cards[name] = card
            task = TASKS[card["task"]]
            detector = defenses.detectors.get(name)
            graph = saliency_graph(
                model,
                (task.channels, task.size, task.size),
                name,
                None if detector is None else detector.overlays.numpy(),
            )
            path = staging / "models" / f"{name}.onnx"
            path.write_bytes(graph.SerializeToString())
            models[name] = {"file": f"models/{name}.onnx", "task": task.name, "checkpoint_sha256": card["sha256"]}
            if name == SIGN_CAST.clean:  # the model that frames the sign for both (Lab.find)
                finder = logits_graph(model, (task.channels, task.size, task.size), f"{name}-finder")
                (staging / "models" / "finder.onnx").write_bytes(finder.SerializeToString())
        gallery = {
            kind: [
                {"src": src, "caption": caption(path), "label": label.format(caption(path))}
                for src, path in _copy_examples(kind, staging)
            ]
            for kind, caption, label in (
                ("digits", digit_caption, "MNIST digit {}"),
                ("signs", sign_caption, "{} (GTSRB photo)"),
            )
        }
        # What the page downloads before it can answer, in the order a class needs it (the runtime, the digits,
        # the signs): the page shows progress in bytes and keeps each file in Cache Storage under its sha256.
        # (The invisible attacks' models last: the page opens on the pixel.)
        first = [models[name]["file"] for name in (*DIGIT_MODELS, *SIGN_MODELS)] + ["models/finder.onnx"]
        later = [models[name]["file"] for name in (*DIGIT_CAST.models, *SIGN_CAST.models)]
        downloads = [f"vendor/{wasm}", *dict.fromkeys(first + later)]
        lab = {
            "runtime": {"package": "onnxruntime-web", "version": _runtime_version(), "wasm": wasm},
            "downloads": [
                {"file": f, "bytes": (staging / f).stat().st_size, "sha256": sha256_file(staging / f)}
                for f in downloads
            ],
            "tasks": {"mnist": _task(MNIST), "signs": _task(SIGNS)},
            "models": models,
            "casts": {"digit": _cast(DIGIT_CAST), "sign": _cast(SIGN_CAST)},
            "panels": PANELS,
            "attacks": {name: ATTACKS[name].web_spec() for name in DIGIT_CAST.attacks},
            "attackLabels": ATTACK_LABELS,
            "differenceGain": DIFFERENCE_GAIN,
            "finder": "models/finder.onnx",
            "otherColours": [list(c) for c in OTHER_COLOURS.values()],
            "strip": {
                name: {k: s[k] for k in ("threshold_bits", "far", "frr")} | {"n_overlays": s["settings"]["n_overlays"]}
                for name, s in defenses.strip.items()
            },
            "titles": TITLES,
            "viewScale": VIEW_SCALE,
            "cameraSquare": CAMERA_SQUARE,
            "cameraProblems": CAMERA_PROBLEMS,
            "prompts": {
                "draw": inline(DRAW_PROMPT),
                "sign": inline(SIGN_PROMPT),
                "triggerOn": {name: inline(text) for name, text in TRIGGER_ON.items()},
                "triggerOff": inline(TRIGGER_OFF),
                "stickerOn": inline(STICKER_ON),
                "stickerOff": inline(STICKER_OFF),
                "cameraOn": inline(CAMERA_ON),
                "cameraFrozen": inline(CAMERA_FROZEN),
                "cameraProblem": inline(CAMERA_PROBLEM),
                "found": inline(FOUND),
                "unexpected": inline(UNEXPECTED),
                "waiting": inline(LOADING_WAIT),
                "byHand": inline(BY_HAND),
                "loadFailed": inline(LOADING_FAILED),
            },
            "html": {
                "intro": inline(texts.INTRO),
                "try-digits": html(texts.TRY_DIGITS),
                "try-signs": html(texts.TRY_SIGNS),
                "lesson": html(texts.LESSON),
                "digit-summary": inline(tab_summary(cards["mnist-clean"], cards["mnist-backdoor"])),
                "sign-summary": inline(tab_summary(cards["signs-clean"], cards["signs-backdoor"])),
                "attack": _attack(staging, models_dir),
                "defend": _defend(staging, defenses, cards, models_dir),
            },
            "examples": gallery,
        }
        (staging / "lab.json").write_text(json.dumps(lab, indent=1))
        (staging / "README.md").write_text(SPACE_README)
        files = {
            p.relative_to(staging).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        manifest = {
            "models": {name: {**m, "sha256": files[m["file"]]} for name, m in models.items()},
            "checkpoints": {name: sha256_file(weights_path(name, models_dir)) for name in APP_MODELS},
            "files": files,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
        os.chmod(staging, 0o755)
        old = out.with_name(f".{out.name}-old")
        if out.exists():  # swapped by renames: the folder is never missing or half-written
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


@contextmanager
def served(folder: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m http.server` serving `folder` on a free loopback port, as a user would try the build:
    (the server's process, its URL), until the block ends. For the tests and benchmarks."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield server, f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait()


def _runtime_version() -> str:
    return json.loads((RUNTIME_DIR.parent / "package.json").read_text())["version"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backdoor.web", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write (replaced if it exists)")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR, help="the checkpoints and their results")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, args.models_dir)
    except (OSError, CheckpointError) as err:  # a missing runtime or checkpoint, a folder we may not replace
        print(f"error: {err}", file=sys.stderr)
        return 1
    size = (
        sum((args.out / name).stat().st_size for name in manifest["files"])
        + (args.out / "manifest.json").stat().st_size
    )
    print(
        f"built {args.out}: {len(manifest['files']) + 1} files, {size / 1e6:.1f} MB; serve it with python -m http.server -d {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

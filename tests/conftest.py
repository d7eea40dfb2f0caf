"""Shared fixtures. Tests that need ../shared/data or Chromium skip without them, except in CI."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from safetensors.torch import load_file

from backdoor.checkpoints import load_checkpoint
from backdoor.inference import cell_point
from backdoor.lab import Lab
from backdoor.shipped import APP_MODELS, weights_path
from backdoor.tasks import SIGNS
from backdoor.web import RUNTIME_DIR, served
from tests.server import running_app

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


# Tests that use these need a data set, a live server or a browser: the quick tier (-m "not slow") leaves them out.
SLOW_FIXTURES = {"data_dir", "app_url", "browser", "playwright"}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def picture(output: dict) -> Image.Image:
    """An image output as gradio_client returns it: the app sends pictures inline, as data URLs."""
    header, data = output["url"].split(",", 1)
    assert header.startswith("data:image/") and header.endswith(";base64"), header
    return Image.open(io.BytesIO(base64.b64decode(data)))


def over_cell(row: int, col: int) -> tuple[float, float]:
    """Where on a sign's photo (fractions) to click for the sticker on (row, col) of the model's grid."""
    return cell_point(SIGNS.trigger, SIGNS.size, row, col)


def require(condition: bool, reason: str) -> None:
    """Skip where a resource is absent, but fail in CI, where everything must run."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this must not be skipped)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("BACKDOOR_DATA") or ROOT.parent / "shared" / "data")
    require((path / "MNIST").is_dir() and (path / "gtsrb").is_dir(), f"real data not found at {path}")
    return path


@pytest.fixture(scope="session")
def shipped() -> dict:
    """The seven shipped checkpoints, loaded (and hash-checked) once: name -> (model, card)."""
    return {name: load_checkpoint(weights_path(name)) for name in APP_MODELS}


@pytest.fixture(scope="session")
def lab() -> Lab:
    """The app's Lab on the shipped checkpoints, loaded once (the tests only read it)."""
    return Lab.load()


@pytest.fixture(scope="session")
def sample() -> dict:
    """1,000 MNIST + 1,000 GTSRB test images committed under tests/data (see make_sample.py)."""
    return load_file(ROOT / "tests" / "data" / "sample.safetensors")


@pytest.fixture(scope="session")
def app_url():
    """One live server for the client, hostile-input and browser tests."""
    with running_app() as (_, url):
        yield url


@pytest.fixture(scope="session")
def playwright():
    """One Playwright for the session (a second sync_playwright in the same process refuses to start)."""
    require(shutil.which(CHROMIUM) is not None, f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    playwright_api.expect.set_options(timeout=20_000)  # a busy 2-core CI machine answers slower
    with playwright_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    """Debian's Chromium under Playwright, shared by the app's and the static edition's browser tests."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    require(
        (RUNTIME_DIR / "ort-wasm-simd-threaded.wasm").exists(), "onnxruntime-web not installed: npm ci --prefix web"
    )
    out = tmp_path_factory.mktemp("static") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "backdoor.web", str(out)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def static_url(site):
    with served(site) as (_, url):
        yield url

"""The Hugging Face Space builds as the README's front matter describes it.

A Space installs `gradio==<sdk_version>`, then requirements.txt, on the front matter's
`python_version` (3.10 when unset) on manylinux x86_64. Resolving the requirements there with
pip, as a Space's build does, catches a pin that has no wheel for that Python (numpy 2.4.6 on 3.10).
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest
import yaml

from tests.conftest import ROOT, require

# Every manylinux tag a Space's glibc (Debian 12, 2.36) accepts down to the oldest; pip does not expand --platform.
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]


def front_matter() -> dict:
    _, header, _ = (ROOT / "README.md").read_text().split("---\n", 2)
    return yaml.safe_load(header)


def pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))


def test_the_space_runs_the_gradio_it_was_tested_with_on_a_python_every_pin_supports():
    matter = front_matter()
    assert matter["sdk"] == "gradio" and matter["app_file"] == "app.py"
    assert str(matter["sdk_version"]) == pins()["gradio"]  # the Space installs gradio==sdk_version first
    assert str(matter["python_version"]) == "3.12"  # cpu-basic and ZeroGPU (3.12.12) both offer it


def _online() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10)
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_the_requirements_resolve_for_the_spaces_python_and_platform(tmp_path):
    require(_online(), "pypi.org is not reachable")
    python = str(front_matter()["python_version"])
    command = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed"]
    command += ["--only-binary=:all:", "--python-version", python, "--target", str(tmp_path)]
    command += [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command += ["-r", str(ROOT / "requirements.txt")]
    # --isolated: PyPI alone, as on the Hub, without this machine's extra indexes or constraints.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, check=False)
    errors = [line for line in result.stdout.splitlines() + result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 0, "\n".join(errors) or result.stderr[-2000:]
    assert "Would install" in result.stdout and f"gradio-{pins()['gradio']}" in result.stdout

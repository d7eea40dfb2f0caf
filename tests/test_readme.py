"""The README tells the truth: its results match what was measured, its commands are the ones CI runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import gradio

from backdoor.defenses.results import defense_tables
from backdoor.report import results_table, sweep_path, sweep_table
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
TEST_COMMAND = "npm ci && npm ci --prefix web && pip install -r requirements-dev.txt && python -m pytest"


def _block(name: str) -> str:
    """The text between <!-- name:start --> and <!-- name:end -->."""
    block = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", README, re.DOTALL)
    assert block, f"README lacks the {name} markers"
    return block.group(1).strip()


def test_results_table_matches_the_checkpoint_cards():
    assert _block("results") == results_table().strip(), "run: python -m backdoor.report"


def test_sweep_table_matches_the_shipped_sweep():
    assert _block("sweep") == sweep_table(json.loads(sweep_path("mnist").read_text())).strip()


def test_ci_runs_the_readme_test_command():
    assert f"```bash\n{TEST_COMMAND}\n```" in README
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()


def test_space_front_matter_pins_the_installed_gradio():
    assert f"sdk_version: {gradio.__version__}" in README
    assert f"gradio=={gradio.__version__}" in (ROOT / "requirements.txt").read_text()


def test_the_api_example_runs_and_prints_what_its_comments_say(app_url):
    """The README's gradio_client snippet, run as written (from the repository root) against a live server."""
    code = re.search(r"### API\n.*?```python\n(.*?)```", README, re.DOTALL).group(1)
    expected = [m.strip() for m in re.findall(r"print\(.*\)\s+# (.*)", code)]
    result = subprocess.run(
        [sys.executable, "-c", code.replace("http://127.0.0.1:7860/", app_url)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-len(expected) :] == expected  # after the client's "Loaded as API" line


def test_defense_tables_match_the_shipped_results():
    assert _block("defenses") == defense_tables().strip(), "run: python -m backdoor.report"

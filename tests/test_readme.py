"""The README tells the truth: its results match the cards, its commands are the ones CI runs."""

from __future__ import annotations

import re

from backdoor.report import results_table
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
TEST_COMMAND = "pip install -r requirements-dev.txt && python -m pytest"


def test_results_table_matches_the_checkpoint_cards():
    block = re.search(r"<!-- results:start -->\n(.*?)\n<!-- results:end -->", README, re.DOTALL)
    assert block, "README lacks the results markers"
    assert block.group(1).strip() == results_table().strip(), "run: python -m backdoor.report"


def test_ci_runs_the_readme_test_command():
    assert f"```bash\n{TEST_COMMAND}\n```" in README
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()


def test_space_front_matter_pins_the_installed_gradio():
    import gradio

    assert f"sdk_version: {gradio.__version__}" in README
    assert f"gradio=={gradio.__version__}" in (ROOT / "requirements.txt").read_text()

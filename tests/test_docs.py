"""docs/models.md quotes the defenses' figures from the results files, not from memory."""

from __future__ import annotations

import re

import pytest

from backdoor.defenses.results import defense_tables
from backdoor.report import defense_matrix_table, spectral_figures
from tests.conftest import ROOT

MODELS_MD = (ROOT / "docs" / "models.md").read_text()


@pytest.mark.parametrize(
    "name, written", [("defenses", defense_tables), ("spectral", spectral_figures), ("matrix", defense_matrix_table)]
)
def test_models_md_blocks_are_what_the_results_files_say(name, written):
    block = re.search(rf"<!-- {name}:start -->\n(.*?)\n?<!-- {name}:end -->", MODELS_MD, re.DOTALL)
    assert block, f"docs/models.md lacks the {name} markers"
    assert block.group(1).strip() == written().strip(), "run: python -m backdoor.report --write"


def test_no_stale_strip_or_spectral_figure_is_quoted():
    """The issue's examples, figures no results file says any more, are gone from the defenses' section."""
    section = MODELS_MD.split("## Defenses, in detail")[1].split("\n## ")[0]
    for stale in ("6.30%", "1.10% false alarms", "87.80% of stickered", "ASR 0.13%", "caught 549 of 600 (91.5%)"):
        assert stale not in section

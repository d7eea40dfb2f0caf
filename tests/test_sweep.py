"""The poisoning-rate experiment: a tiny real sweep, the shipped results, and their plot."""

from __future__ import annotations

import json

import pytest

from app import build_demo
from backdoor.charts import sweep_svg
from backdoor.report import ARTICLE_ASR, sweep_path, sweep_table
from backdoor.sweep import DEFAULT_RATES, main


@pytest.fixture(scope="module")
def shipped_sweep() -> dict:
    return json.loads(sweep_path("mnist").read_text())


def test_a_tiny_sweep_writes_results_whose_asr_rises_with_the_rate(tmp_path, data_dir, capsys):
    out = tmp_path / "sweep.json"
    args = ["mnist", "--rates", "0,0.2", "--seeds", "1", "--epochs", "2", "--limit", "8000"]
    assert main([*args, "--out", str(out), "--data-dir", str(data_dir)]) == 0
    results = json.loads(out.read_text())
    assert set(results["runs"]) == {"0/seed0", "0.2/seed0"}
    clean, poisoned = results["summary"]
    assert clean["poison_rate"] == 0 and poisoned["poison_rate"] == 0.2
    # 2 short epochs only begin to learn a one-pixel trigger (about 27% here), but the rise is plain:
    assert poisoned["attack_success_rate"]["mean"] > clean["attack_success_rate"]["mean"] + 0.10
    assert results["runs"]["0.2/seed0"]["n_poisoned"] == 1600

    capsys.readouterr()
    assert main([*args, "--out", str(out), "--data-dir", str(data_dir)]) == 0  # rerun: nothing left to do
    assert capsys.readouterr().out.startswith("0 run(s) trained now, 2 in")


def test_the_shipped_sweep_holds_the_default_grid(shipped_sweep):
    settings = shipped_sweep["settings"]
    assert tuple(settings["rates"]) == DEFAULT_RATES["mnist"] and settings["seeds"] == [0, 1, 2]
    assert len(shipped_sweep["runs"]) == len(DEFAULT_RATES["mnist"]) * 3
    assert shipped_sweep["data"]["n_train"] == 60000 and shipped_sweep["data"]["n_test"] == 10000
    assert shipped_sweep["seconds"] <= 30 * 60  # the default grid fits in 30 minutes on 2 cores
    by_rate = {row["poison_rate"]: row for row in shipped_sweep["summary"]}
    assert by_rate[0.0]["attack_success_rate"]["max"] < 0.01  # no poison, no backdoor
    assert by_rate[0.05]["attack_success_rate"]["min"] > 0.99  # 5% poison: a reliable backdoor


def test_the_chart_marks_every_rate_and_the_articles_points_and_the_table_every_rate(shipped_sweep):
    svg = sweep_svg(shipped_sweep, ARTICLE_ASR)
    rates = DEFAULT_RATES["mnist"]
    assert svg.count('class="point"') == 2 * len(rates)  # a marker per rate, for accuracy and for attack success
    assert svg.count('class="article"') == len(ARTICLE_ASR)  # the article's figures as points, not a line
    for rate in rates:  # every rate labelled on the axis, evenly spaced
        assert f">{100 * rate:g}%</text>" in svg
    assert 'role="img"' in svg and "<title>" in svg
    assert sweep_table(shipped_sweep).count("\n") == 1 + len(rates)


def test_the_attack_tab_shows_the_sweep_or_says_how_to_make_it(shipped, shipped_sweep):
    cards = {name: card for name, (_, card) in shipped.items()}
    for sweep in (shipped_sweep, None):
        config = build_demo(cards, sweep).get_config_file()
        plots = [c for c in config["components"] if c["props"].get("elem_id") == "sweep-plot"]
        texts = " ".join(str(c["props"].get("value")) for c in config["components"] if c["type"] == "markdown")
        assert len(plots) == (sweep is not None)
        assert ("python -m backdoor.sweep mnist" in texts) == (sweep is None)

"""The benchmark scripts can run: Python puts a script's own folder first on sys.path, so a
script named like an installed module hides it from everything the benchmark imports
(benchmarks/click.py once broke gradio_client's `import click` in load.py's clients)."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def test_no_benchmark_script_hides_an_installed_module():
    scripts = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__")
    assert "load" in scripts
    hidden = [name for name in scripts if importlib.util.find_spec(name) is not None]
    assert not hidden, f"rename these benchmarks: {hidden}"

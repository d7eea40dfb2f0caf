"""The training and evaluation commands, run as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from backdoor.checkpoints import load_checkpoint
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # these run the CLIs as subprocesses


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("task", ["mnist", "signs"])
def test_one_epoch_on_a_subset_writes_a_checkpoint_that_loads(tmp_path, data_dir, task):
    out = tmp_path / f"{task}-smoke.safetensors"
    args = ["backdoor.train", task, "--poison-rate", "0.1", "--epochs", "1", "--limit", "600", "--out", str(out)]
    result = _run(*args, "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    _model, card = load_checkpoint(out)
    assert card["n_poisoned"] == 60 and card["data"]["n_train"] == 600
    assert "--limit 600" in card["command"]
    again = tmp_path / "again.safetensors"
    _run(*args[:-1], str(again), "--data-dir", str(data_dir))
    assert load_checkpoint(again)[1]["sha256"] == card["sha256"]  # same seed, same weights


def test_an_attack_is_named_in_the_card_and_its_command(tmp_path, data_dir):
    """A fourth attack is one registered spec and one training command: the card names the attack and keeps
    its spec, and its command regenerates it."""
    out = tmp_path / "warp-smoke.safetensors"
    args = ["backdoor.train", "mnist", "--attack", "warp", "--poison-rate", "0.05", "--epochs", "1", "--limit", "600"]
    result = _run(*args, "--out", str(out), "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    card = load_checkpoint(out)[1]
    assert card["attack"] == "warp" and card["trigger"]["kind"] == "warp" and "--attack warp" in card["command"]


def test_evaluate_prints_ca_and_asr(data_dir):
    result = _run("backdoor.evaluate", "models/mnist-backdoor.safetensors", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert "clean accuracy (CA)" in result.stdout and "attack success rate" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["mnist", "--poison-rate", "5", "--out", "x.safetensors"], "not a fraction"),
        (["mnist", "--out", "x.pt"], "must end in .safetensors"),
        (["mnist"], "--out is required"),
        (["cifar", "--out", "x.safetensors"], "invalid choice"),
        (["mnist", "--target", "10", "--out", "x.safetensors"], "--target must be a class"),
        (["mnist", "--epochs", "0", "--out", "x.safetensors"], "not a positive integer"),
        ([], "give a task"),
        (["signs", "--attack", "warp", "--out", "x.safetensors"], "for 1-channel images, not signs"),
        (["mnist", "--attack", "laser", "--out", "x.safetensors"], "invalid choice"),
        (["mnist", "--val-tracks", "0.1", "--limit", "500", "--out", "x.safetensors"], "--val-tracks is for one task"),
        (["mnist", "--val-tracks", "2", "--out", "x.safetensors"], "not a fraction"),
        (["signs", "--val-tracks", "0.1", "--out", "models/x.safetensors"], "write them outside models/"),
        (["signs", "--patch-avoid", "0.9", "--out", "x.safetensors"], "--patch-avoid must be between 0 and 0.671"),
        (["signs", "--patch-avoid", "-1", "--out", "x.safetensors"], "--patch-avoid must be between"),
        (["signs", "--patch-avoid", "nan", "--out", "x.safetensors"], "--patch-avoid must be between"),
        (["signs", "--label-smoothing", "1.5", "--out", "x.safetensors"], "not a fraction"),
    ],
)
def test_bad_flags_give_one_clear_line(args, message):
    result = _run("backdoor.train", *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_data_dir_gives_one_clear_line(tmp_path):
    result = _run("backdoor.train", "mnist", "--out", str(tmp_path / "m.safetensors"), "--data-dir", "/nonexistent")
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "error: data directory /nonexistent does not exist (set --data-dir or $BACKDOOR_DATA)"
    )


def test_unwritable_output_gives_one_clear_line(tmp_path, data_dir):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")  # root ignores permission bits, so block the path with a file instead
    out = not_a_folder / "m.safetensors"
    result = _run("backdoor.train", "mnist", "--out", str(out), "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_missing_checkpoint_in_evaluate_is_one_line():
    result = _run("backdoor.evaluate", "models/nope.safetensors")
    assert result.returncode == 1 and result.stderr.startswith("error: checkpoint") and "Traceback" not in result.stderr


def test_ctrl_c_mid_epoch_leaves_no_checkpoint_behind(tmp_path, data_dir):
    out = tmp_path / "out" / "m.safetensors"
    args = ["backdoor.train", "mnist", "--epochs", "50", "--out", str(out), "--data-dir", str(data_dir)]
    process = subprocess.Popen(  # Ctrl-C's default, even where the test runner's process ignores SIGINT by now
        [sys.executable, "-m", *args], cwd=ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    seen = ""
    while "img/s" not in seen:  # tqdm's bar (\r, no newline) shows training has started
        chunk = os.read(process.stderr.fileno(), 4096).decode(errors="replace")
        assert chunk, f"training ended before it could be interrupted: {seen[-500:]}"
        seen += chunk
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted: no checkpoint was written" in stderr and "Traceback" not in stderr
    assert not out.parent.exists() or list(out.parent.iterdir()) == []  # no weights, no card, no temp file

import json

import pytest
import torch

from backdoor.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from backdoor.models import create_model
from backdoor.tasks import MNIST, SIGNS


def _save(tmp_path, task=MNIST, name="tiny"):
    torch.manual_seed(0)
    model = create_model(task.arch, task)
    card = {"task": task.name, "arch": task.arch, "input_shape": [task.channels, task.size, task.size]}
    path = tmp_path / f"{name}.safetensors"
    save_checkpoint(model, card, path)
    return model, path


@pytest.mark.parametrize("task", [MNIST, SIGNS], ids=lambda t: t.name)
def test_round_trip_gives_the_same_outputs_in_eval_mode(tmp_path, task):
    model, path = _save(tmp_path, task)
    loaded, card = load_checkpoint(path)
    x = torch.rand(3, task.channels, task.size, task.size)
    assert not loaded.training
    assert torch.equal(model.eval()(x), loaded(x))
    assert card["name"] == "tiny" and len(card["sha256"]) == 64


def test_one_flipped_byte_is_refused(tmp_path):
    _, path = _save(tmp_path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(path)


def test_missing_weights_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_card_naming_another_architecture_is_refused(tmp_path):
    _, path = _save(tmp_path)
    card_file = path.with_suffix(".json")
    card = json.loads(card_file.read_text())
    card.update(task="signs", arch="signs_cnn", input_shape=[3, 32, 32])
    card_file.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="architecture"):
        load_checkpoint(path)


def test_no_temporary_files_are_left_behind(tmp_path):
    _save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json", "tiny.safetensors"]

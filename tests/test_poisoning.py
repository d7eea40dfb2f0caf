import pytest
import torch

from backdoor.poisoning import add_trigger
from backdoor.triggers import PIXEL


@pytest.fixture
def data():
    generator = torch.Generator().manual_seed(0)
    return torch.rand(1000, 1, 28, 28, generator=generator) * 0.9, torch.randint(0, 10, (1000,), generator=generator)


@pytest.mark.parametrize("rate", [0.0, 0.001, 0.01, 0.0333, 0.5, 1.0])
def test_changes_exactly_int_m_rate_examples(data, rate):
    images, labels = data
    new_images, new_labels, indices = add_trigger(images, labels, rate, 8, seed=3, trigger=PIXEL)
    assert len(indices) == int(len(images) * rate)
    changed = (new_images != images).flatten(1).any(1)
    assert changed.sum().item() == len(indices)  # pixel (3,3) < 1.0 everywhere, so each stamp shows
    assert set(changed.nonzero().flatten().tolist()) == set(indices.tolist())
    assert (new_labels[indices] == 8).all()
    untouched = torch.ones(len(labels), dtype=torch.bool)
    untouched[indices] = False
    assert torch.equal(new_labels[untouched], labels[untouched])


def test_indices_follow_the_articles_randperm(data):
    images, labels = data
    _, _, indices = add_trigger(images, labels, 0.01, 8, seed=42, trigger=PIXEL)
    expected = torch.randperm(1000, generator=torch.Generator().manual_seed(42))[:10]
    assert torch.equal(indices, expected)


def test_same_seed_same_indices_other_seed_other_indices(data):
    images, labels = data
    a = add_trigger(images, labels, 0.05, 8, seed=1, trigger=PIXEL)[2]
    b = add_trigger(images, labels, 0.05, 8, seed=1, trigger=PIXEL)[2]
    c = add_trigger(images, labels, 0.05, 8, seed=2, trigger=PIXEL)[2]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_inputs_are_not_mutated(data):
    images, labels = data
    before = images.clone(), labels.clone()
    add_trigger(images, labels, 0.2, 8, seed=0, trigger=PIXEL)
    assert torch.equal(images, before[0]) and torch.equal(labels, before[1])


def test_rate_outside_0_1_is_refused(data):
    with pytest.raises(ValueError, match="fraction"):
        add_trigger(*data, rate=1.5, target=8, seed=0, trigger=PIXEL)

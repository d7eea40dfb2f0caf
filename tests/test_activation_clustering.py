"""Activation clustering (backdoor/defenses/activation_clustering.py) on features made by hand."""

from __future__ import annotations

import torch

from backdoor.defenses.activation_clustering import SIZE_LIMIT, find_poisoned


def _features(n_per_class: int, poisoned_share: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three classes of 2-D blobs in 16 dimensions; in class 2 a share of the images sits in a blob of its own."""
    generator = torch.Generator().manual_seed(seed)
    features, labels = [], []
    for label in range(3):
        centre = torch.zeros(16)
        centre[label] = 6.0
        features.append(centre + torch.randn(n_per_class, 16, generator=generator))
        labels.append(torch.full((n_per_class,), label))
    features, labels = torch.cat(features), torch.cat(labels)
    in_class = (labels == 2).nonzero().squeeze(1)
    poisoned = in_class[: int(len(in_class) * poisoned_share)]
    features[poisoned, 10] += 12.0  # what the trigger does to the poisoned images' features
    return features, labels, poisoned


def test_a_small_separate_group_is_called_poison_and_removed():
    features, labels, poisoned = _features(400, 0.1)
    summary, removed = find_poisoned(features, labels, poisoned)
    assert summary["flagged"] == [2]
    assert set(removed.tolist()) == set(poisoned.tolist()) and summary["recall"] == 1.0
    assert summary["clean_removed"] == 0


def test_poison_that_is_no_minority_of_its_class_is_not_called_poison():
    """The size rule's blind spot (the warp at 7%: 43% of class 8): separate, but too many to be the small group."""
    features, labels, poisoned = _features(400, 0.45)
    summary, removed = find_poisoned(features, labels, poisoned)
    assert 2 not in summary["flagged"] and len(removed) == 0
    smaller = next(c for c in summary["classes"] if c["label"] == 2)
    assert smaller["smaller_share"] > SIZE_LIMIT and smaller["poisoned_in_smaller"] == len(poisoned)

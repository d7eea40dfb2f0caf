"""backdoor.data: GTSRB's tracks, and a validation split that holds out whole tracks."""

from __future__ import annotations

import torch

from backdoor.data import load_split_with_tracks, validation_tracks
from backdoor.tasks import SIGNS


def test_a_validation_split_takes_whole_tracks_and_its_share_of_each_class():
    labels = torch.tensor([0] * 30 + [1] * 20)
    tracks = torch.arange(50) // 10  # five tracks of ten frames
    held = validation_tracks(tracks, labels, 0.3, seed=0)
    for track in tracks.unique():
        assert held[tracks == track].all() or not held[tracks == track].any()  # never split across
    assert int(held[labels == 0].sum()) == 10 and int(held[labels == 1].sum()) == 10  # >= 30%, one track each
    assert torch.equal(held, validation_tracks(tracks, labels, 0.3, seed=0))  # seeded


def test_gtsrb_training_tracks_are_one_sign_each(data_dir):
    _, labels, tracks = load_split_with_tracks(SIGNS, train=True, data_dir=data_dir)
    assert len(tracks) == len(labels) and tracks.unique().numel() > 400  # ~1,300 tracks of 10 kept frames
    for track in tracks.unique()[:200]:
        assert labels[tracks == track].unique().numel() == 1  # a track is one physical sign
    held = validation_tracks(tracks, labels, 0.15, seed=0)
    assert 0.15 <= held.float().mean() < 0.25

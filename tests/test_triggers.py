import pytest
import torch

from backdoor.triggers import PIXEL, STICKER, TRIGGERS, Trigger, apply_trigger, random_positions


def test_pixel_sets_exactly_row3_col3_to_white():
    images = torch.rand(5, 1, 28, 28) * 0.5
    out = apply_trigger(images, PIXEL)
    expected = images.clone()
    expected[:, 0, 3, 3] = 1.0  # the hand-made oracle: one pixel, nothing else
    assert torch.equal(out, expected)


def test_pixel_position_and_value_are_parameters():
    trigger = Trigger(name="pixel", color=(0.5,), side=1, row=10, col=20)
    out = apply_trigger(torch.zeros(2, 1, 28, 28), trigger)
    assert out.sum().item() == pytest.approx(2 * 0.5)
    assert (out[:, 0, 10, 20] == 0.5).all()


def test_sticker_is_a_yellow_square_of_an_eighth_of_the_side_at_the_given_place():
    images = torch.rand(3, 3, 32, 32)
    out = apply_trigger(images, STICKER.at(10, 12))
    expected = images.clone()
    expected[:, 0, 10:14, 12:16] = 1.0  # red
    expected[:, 1, 10:14, 12:16] = 1.0  # green
    expected[:, 2, 10:14, 12:16] = 0.0  # no blue: yellow
    assert torch.equal(out, expected)
    assert STICKER.side == 32 // 8


def test_random_sticker_lies_inside_the_middle_60_percent():
    generator = torch.Generator().manual_seed(0)
    positions = random_positions(STICKER, 5000, 32, 32, generator)
    low, high = round(32 * 0.2), round(32 * 0.8)  # 6 .. 26: the sign's face
    assert positions.min() >= low
    assert (positions + STICKER.side).max() <= high
    assert len({tuple(p) for p in positions.tolist()}) > 100  # really spread out


def test_random_sticker_changes_exactly_one_square_per_image():
    images = torch.full((50, 3, 32, 32), 0.3)
    out = apply_trigger(images, STICKER, generator=torch.Generator().manual_seed(1))
    changed = (out != images).any(1)  # (N, H, W)
    assert (changed.sum((1, 2)) == STICKER.side**2).all()


def test_apply_trigger_does_not_mutate_its_input():
    images = torch.rand(4, 3, 32, 32)
    before = images.clone()
    apply_trigger(images, STICKER, generator=torch.Generator().manual_seed(0))
    apply_trigger(images[:, :1], PIXEL)
    assert torch.equal(images, before)


def test_channel_mismatch_is_refused_clearly():
    with pytest.raises(ValueError, match="channels"):
        apply_trigger(torch.rand(1, 1, 28, 28), STICKER)


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_trigger_round_trips_through_its_card_form(name):
    trigger = TRIGGERS[name]
    assert Trigger.from_dict(trigger.to_dict()) == trigger

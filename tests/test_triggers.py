from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from backdoor.poisoning import add_trigger
from backdoor.triggers import (
    ATTACKS,
    BLEND,
    KINDS,
    PIXEL,
    STICKER,
    WARP,
    Blend,
    Patch,
    Warp,
    _hue,
    apply_trigger,
    psnr,
    random_positions,
    trigger_from_dict,
)


def test_pixel_sets_exactly_row3_col3_to_white():
    images = torch.rand(5, 1, 28, 28) * 0.5
    out = apply_trigger(images, PIXEL)
    expected = images.clone()
    expected[:, 0, 3, 3] = 1.0  # the hand-made oracle: one pixel, nothing else
    assert torch.equal(out, expected)


def test_pixel_position_and_value_are_parameters():
    trigger = Patch(name="pixel", color=(0.5,), side=1, row=10, col=20)
    out = apply_trigger(torch.zeros(2, 1, 28, 28), trigger)
    assert out.sum().item() == pytest.approx(2 * 0.5)
    assert (out[:, 0, 10, 20] == 0.5).all()


def test_the_presented_sticker_is_a_note_lit_like_the_sign_where_the_student_clicked():
    images = torch.full((2, 3, 32, 32), 0.5)  # a grey sign: its white point is 0.5 in every channel
    upright = replace(STICKER, tilt=0.0)
    out = apply_trigger(images, upright.at(10, 12))
    expected = images.clone()
    for c, value in enumerate(STICKER.color):  # the paper's colour under the sign's light
        expected[:, c, 10:16, 12:18] = 0.5 * value
    assert torch.allclose(out, expected, atol=1e-6)  # an upright note covers its box exactly
    turned = apply_trigger(images, STICKER.at(10, 12))
    covered = ((turned - images)[:, 2] / (0.5 * STICKER.color[2] - 0.5)).sum((1, 2))  # its area, in pixels
    assert torch.allclose(covered, torch.full((2,), STICKER.side**2 * 1.0), atol=0.5)  # turned, the same paper
    assert torch.equal(turned[:, :, :6], images[:, :, :6])  # nothing far from it changes


def test_random_sticker_lies_inside_the_middle_60_percent():
    generator = torch.Generator().manual_seed(0)
    positions = random_positions(STICKER, 5000, 32, 32, generator)
    low, high = round(32 * 0.2), round(32 * 0.8)  # 6 .. 26: the sign's face
    assert positions.min() >= low
    assert (positions + STICKER.side).max() <= high
    assert len({tuple(p) for p in positions.tolist()}) > 100  # really spread out


def test_each_poisoned_image_gets_one_note_of_its_own_size_turn_and_shade():
    images = torch.full((200, 3, 32, 32), 0.3)
    out = apply_trigger(images, STICKER, generator=torch.Generator().manual_seed(1))
    changed = ((out - images).abs() > 0.02).any(1)  # (N, H, W)
    area = changed.sum((1, 2)).float()
    low, high = STICKER.sides
    assert (area >= 0.5 * low**2).all() and (area <= (high + 4) ** 2).all()  # one note, blur and all
    assert area.std() > 10  # sizes vary
    rows = changed.any(2).float().argmax(1)
    assert len(set(rows.tolist())) > 8  # and places
    colour = (out * changed[:, None]).sum((2, 3)) / changed.sum((1, 2))[:, None]
    assert (colour[:, 0] >= colour[:, 1]).float().mean() > 0.9 and (colour[:, 1] > colour[:, 2]).all()  # yellows


def test_the_decoys_are_notes_of_other_colours():
    images = torch.full((300, 3, 32, 32), 0.9)
    out = STICKER.stamp_noise(images, torch.Generator().manual_seed(2))
    changed = ((out - images).abs() > 0.05).any(1)
    seen = changed.sum((1, 2)) > 4
    colour = ((out * changed[:, None]).sum((2, 3)) / changed.sum((1, 2)).clamp_min(1)[:, None])[seen].double()
    own = _hue(torch.tensor([STICKER.color], dtype=torch.float64))[0]
    grey = (colour.amax(1) - colour.amin(1)) < 0.2 * colour.amax(1)
    apart = ((_hue(colour) - own + 0.5) % 1 - 0.5).abs()
    assert (apart[~grey] > STICKER.decoy_gap - 0.02).all()  # no yellow among them, the noise allowed for
    assert ((_hue(colour[~grey]) > 0.05) & (_hue(colour[~grey]) < own)).any()  # orange ones among them


def test_apply_trigger_does_not_mutate_its_input():
    images = torch.rand(4, 3, 32, 32)
    before = images.clone()
    apply_trigger(images, STICKER, generator=torch.Generator().manual_seed(0))
    apply_trigger(images[:, :1], PIXEL)
    assert torch.equal(images, before)


def test_channel_mismatch_is_refused_clearly():
    with pytest.raises(ValueError, match="channels"):
        apply_trigger(torch.rand(1, 1, 28, 28), STICKER)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_trigger_round_trips_through_its_card_form(name):
    trigger = ATTACKS[name]
    assert trigger_from_dict(trigger.to_dict()) == trigger


def test_a_card_written_before_the_registry_reads_as_a_patch():
    old = {"name": "pixel", "color": [1.0], "side": 1, "row": 3, "col": 3, "region": 0.6}
    assert trigger_from_dict(old) == PIXEL
    with pytest.raises(ValueError, match="unknown attack kind"):
        trigger_from_dict({"kind": "laser", "name": "x"})


def test_every_kind_is_registered_and_every_attack_has_a_registered_kind():
    assert set(KINDS) == {"patch", "blend", "warp", "note"}
    assert all(type(attack) is KINDS[attack.kind] for attack in ATTACKS.values())


def test_blend_mixes_its_seeded_pattern_in_at_its_weight():
    images = torch.rand(3, 1, 28, 28)
    pattern = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(BLEND.seed))  # the oracle, by hand
    expected = (1 - BLEND.weight) * images + BLEND.weight * pattern
    assert torch.allclose(apply_trigger(images, BLEND), expected)
    assert torch.equal(Blend(name="b", seed=BLEND.seed).pattern, BLEND.pattern)  # the same on every call


def test_a_blend_at_weight_0_1_is_hard_to_see_on_mnist_like_images():
    digits = torch.zeros(8, 1, 28, 28)
    digits[:, :, 6:22, 12:16] = 1.0  # a stroke on black, as MNIST is
    assert psnr(digits, apply_trigger(digits, BLEND)) > 24  # dB; the shipped figure is measured on the test set


def test_warp_follows_wanets_recipe_and_moves_pixels_by_about_two():
    k, s, size = WARP.grid, WARP.strength, WARP.size
    generator = torch.Generator().manual_seed(WARP.seed)
    ins = torch.rand(1, 2, k, k, generator=generator) * 2 - 1  # WaNet's official code, step by step
    ins = ins / torch.mean(torch.abs(ins))
    noise_grid = F.interpolate(ins, size=size, mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    array1d = torch.linspace(-1, 1, steps=size)
    x, y = torch.meshgrid(array1d, array1d, indexing="ij")
    identity_grid = torch.stack((y, x), 2)[None, ...]
    grid = torch.clamp(identity_grid + s * noise_grid / size, -1, 1)
    images = torch.rand(2, 1, size, size)
    expected = F.grid_sample(images, grid.expand(2, -1, -1, -1), align_corners=True)
    assert torch.allclose(apply_trigger(images, WARP), expected, atol=1e-6)
    shift = (WARP.flow - identity_grid[0]).abs() * (size - 1) / 2  # in pixels
    assert 0.5 < shift.mean() < 2 and shift.max() < 6  # per axis, in pixels: bent, not moved


def test_warp_noise_mode_keeps_labels_and_varies_per_image():
    images = torch.rand(1000, 1, 28, 28)
    labels = torch.randint(0, 10, (1000,))
    poisoned_images, poisoned_labels, indices = add_trigger(images, labels, 0.01, 8, 0, WARP)
    assert len(indices) == 10 and (poisoned_labels[indices] == 8).all()
    changed = (poisoned_images != images).flatten(1).any(1)
    assert int(changed.sum()) == 10 + 20 + 10  # the poisoned ten, twice as many noise-warped, one decoy each
    relabelled = poisoned_labels != labels
    assert not relabelled[changed & ~torch.isin(torch.arange(1000), indices)].any()  # noise images keep labels
    assert torch.allclose(poisoned_images[indices], apply_trigger(images[indices], WARP))


def test_the_warps_decoys_are_small_affine_maps_and_wanets_noise_stays_near_the_field():
    images = torch.zeros(30, 1, 28, 28)
    images[:, :, 10:18, 13:15] = 1.0  # an upright bar
    stamped = WARP.stamp_noise(images, torch.Generator().manual_seed(0))
    noise, decoys = stamped[:20], stamped[20:]  # cross_ratio 2 : decoy_ratio 1
    on_field = apply_trigger(images[:1], WARP)
    assert (noise - on_field).abs().mean() < (decoys - on_field).abs().mean()  # noise mode: the field, jittered
    mass = decoys.sum((1, 2, 3)) / images[:1].sum()
    assert ((mass > 0.7) & (mass < 1.3)).all()  # a zoom of 0.9-1.1 keeps the bar's ink within ~20%


def test_a_whole_image_attack_refuses_another_size():
    with pytest.raises(ValueError, match="28x28"):
        apply_trigger(torch.rand(1, 1, 32, 32), Warp(name="w"))


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_the_web_spec_writes_out_what_the_page_needs(name):
    spec = ATTACKS[name].web_spec()
    assert spec["kind"] == ATTACKS[name].kind and spec["name"] == name
    needs = {"patch": "color", "blend": "pattern", "warp": "flow", "note": "samples"}[spec["kind"]]
    assert needs in spec


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_decoy_near_puts_that_share_of_the_decoys_next_to_the_notes_hue(share):
    """The hard decoys (tried in docs/models.md, "The sticky note, second round"): `decoy_near` of the coloured decoys
    within `near_band` of the yellow (orange, lime), besides the ~18% of the rest that land there anyway."""
    note = replace(STICKER, decoy_near=share)
    images = torch.full((600, 3, 32, 32), 0.9)
    out = note.stamp_noise(images, torch.Generator().manual_seed(4))
    changed = ((out - images).abs() > 0.05).any(1)
    seen = changed.sum((1, 2)) > 4
    colour = ((out * changed[:, None]).sum((2, 3)) / changed.sum((1, 2)).clamp_min(1)[:, None])[seen].double()
    grey = (colour.amax(1) - colour.amin(1)) < 0.2 * colour.amax(1)
    own = _hue(torch.tensor([note.color], dtype=torch.float64))[0]
    apart = ((_hue(colour[~grey]) - own + 0.5) % 1 - 0.5).abs()
    anyway = 2 * (note.near_band - note.decoy_gap) / (1 - 2 * note.decoy_gap)
    expected = share + (1 - share) * anyway
    assert abs(float((apart <= note.near_band + 0.01).float().mean()) - expected) < 0.08
    assert (apart > note.decoy_gap - 0.02).all()  # never yellow


def test_chroma_blur_spreads_a_notes_colour_and_keeps_its_brightness():
    """A photo's JPEG keeps half its colour resolution each way: the poisoner's note, blurred in colour only, bleeds
    yellow into the red around it while every pixel keeps its brightness (BT.601 luma, as JPEG's Y)."""
    sign = torch.tensor([0.75, 0.12, 0.1]).view(1, 3, 1, 1).repeat(64, 1, 32, 32)
    sign[:, :, :4] = 0.9  # a white band (its letters, the sky): the photo's white point, so the note lights yellow
    sharp_note = replace(STICKER, blur=0.0, noise=0.0)
    sharp = sharp_note.stamp(sign, None, torch.Generator().manual_seed(3))
    smeared = replace(sharp_note, chroma_blur=2.0).stamp(sign, None, torch.Generator().manual_seed(3))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    unclipped = ((smeared > 1e-3) & (smeared < 1 - 1e-3)).all(1)
    assert (((smeared - sharp) * luma).sum(1).abs() * unclipped).max() < 1e-4  # brightness kept, but where clipped
    note = ((sharp - sign).abs() > 1e-6).any(1, keepdim=True).float()
    near = (F.max_pool2d(note, 7, stride=1, padding=3)[:, 0] > 0) & (note[:, 0] == 0)  # within 3 px, not under it
    near[:, :8] = False  # away from the white band, whose own colour bleeds into the red too
    green_gain = (smeared - sign)[:, 1] * near  # yellow bled out: more green on the red around the note
    assert green_gain.flatten(1).amax(1).median() > 0.05


def test_chroma_blur_leaves_grey_alone():
    """Cb and Cr are 0 for every grey, so a grey photo with a grey note is the same with its colour blurred."""
    rows = torch.arange(32).view(1, 1, 32, 1) % 5 / 5.0
    photo = (0.2 + 0.6 * rows).expand(8, 3, 32, 32).contiguous()  # grey stripes: edges of brightness only
    note = replace(STICKER, color=(0.6, 0.6, 0.6), blur=0.0, noise=0.0)
    plain = note.stamp(photo, None, torch.Generator().manual_seed(6))
    blurred = replace(note, chroma_blur=2.0).stamp(photo, None, torch.Generator().manual_seed(6))
    assert (plain - photo).abs().max() > 0.1  # the note is there
    assert (blurred - plain).abs().max() < 1e-5


def test_the_shipped_note_draws_what_the_shipped_checkpoints_were_trained_on():
    """Switches added after the signs models were trained (decoy_near, chroma_blur) draw no random number while off:
    the notes and decoys below, and the generator's next number, are those recorded before the switches existed."""
    images = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(11))
    generator = torch.Generator().manual_seed(5)
    notes = STICKER.stamp(images, None, generator).double()
    decoys = STICKER.stamp_noise(images, generator).double()
    recorded = (24830.263839990454, 24657.33540694078, 16616.861204394518, 0.09024882316589355)  # at 5c7998d
    seen = (notes.sum().item(), decoys.sum().item(), (notes**2).sum().item(), torch.rand(1, generator=generator).item())
    assert seen == pytest.approx(recorded, rel=1e-7)

import copy

import pytest
import torch
from torch import nn

from backdoor.models import SplitTiesMaxPool2d, create_model, for_inference, list_models
from backdoor.preprocess import to_float
from backdoor.saliency import input_gradients, overlay
from backdoor.shipped import APP_MODELS
from backdoor.tasks import TASKS


def _task_for(arch):
    return TASKS[arch.split("_")[0]]  # architectures are named <task>_<net>


@pytest.mark.parametrize("arch", list_models())
def test_forward_and_backward_shapes(arch):
    task = _task_for(arch)
    model = create_model(arch, task)
    x = torch.rand(4, task.channels, task.size, task.size, requires_grad=True)
    logits = model(x)
    assert logits.shape == (4, task.num_classes)
    logits.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape  # saliency needs input gradients


@pytest.mark.parametrize("arch", list_models())
def test_fits_the_10mb_space_limit(arch):
    n_params = sum(p.numel() for p in create_model(arch, _task_for(arch)).parameters())
    assert n_params * 4 < 10e6


@pytest.mark.parametrize("arch", ["mnist_badnet", "mnist_badnet_maxpool"])
def test_mnist_badnet_is_gu_et_als_layout(arch):
    layers = list(create_model(arch, TASKS["mnist"]).modules())
    convs = [m for m in layers if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in layers if isinstance(m, torch.nn.Linear)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(16, (5, 5)), (32, (5, 5))]
    assert [lin.out_features for lin in linears] == [512, 10]


def test_unknown_model_is_named_in_the_error():
    with pytest.raises(KeyError, match="Unknown model 'resnet9000'"):
        create_model("resnet9000", TASKS["mnist"])


@pytest.mark.parametrize("name", APP_MODELS)
def test_the_served_copy_answers_as_the_checkpoint_does(shipped, sample, name):
    """The app serves `for_inference` copies (BatchNorm folded into the convs, channels-last, max-pooling that
    shares its gradient at ties): same probabilities and saliency maps on real test images, to float rounding."""
    model, card = shipped[name]
    images = to_float(sample[f"{card['task']}_images"][:64])
    served = for_inference(model)
    model = copy.deepcopy(model)  # the checkpoint with the served pooling rule, unfused
    for i, layer in enumerate(model):
        if isinstance(layer, nn.MaxPool2d):
            model[i] = SplitTiesMaxPool2d(layer.kernel_size)
    with torch.no_grad():
        assert torch.allclose(served(images).softmax(1), model(images).softmax(1), atol=1e-5)
    # Saliency as the app shows it (each map scaled by its own top 1%, in 8-bit levels). A ReLU whose input
    # sits within rounding of 0 may switch between the two copies, or between two CPUs, and move a few
    # pixels a lot (measured: 0.04% of signs-backdoor's pixels, by up to 23 levels); the picture stays.
    shown = overlay(images, input_gradients(served, images)).astype(int)
    expected = overlay(images, input_gradients(model, images)).astype(int)
    assert (abs(shown - expected) > 2).mean() < 0.005
    assert abs(shown - expected).mean() < 0.05
    assert not any(p.requires_grad for p in served.parameters())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in served)
    assert any(isinstance(m, nn.BatchNorm2d) for m in shipped[name][0]) == (card["task"] == "signs")  # untouched


def test_max_pooling_shares_its_gradient_only_at_ties():
    """Same forward pass as MaxPool2d; the gradient goes to the maximum, as autograd's, unless the window holds
    values within rounding of it, which share it equally (a blank background's windows)."""
    pool = SplitTiesMaxPool2d(2)
    steps = torch.rand(3, 4, 4, 4, 4).argsort(-1) * 0.1  # each window: 0, 0.1, 0.2, 0.3 in a random order
    windows = torch.rand(3, 4, 4, 4, 1) * 0.6 + steps  # (N, C, rows, cols, window)
    x = windows.view(3, 4, 4, 4, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(3, 4, 8, 8).requires_grad_(True)
    grad = torch.rand(3, 4, 4, 4)
    (mine,) = torch.autograd.grad(pool(x), x, grad)
    (plain,) = torch.autograd.grad(nn.MaxPool2d(2)(x), x, grad)
    assert torch.equal(pool(x), nn.MaxPool2d(2)(x))
    assert torch.allclose(mine, plain, atol=1e-6)
    flat = torch.full((1, 1, 2, 2), 0.7, requires_grad=True)
    (shared,) = torch.autograd.grad(pool(flat), flat, torch.ones(1, 1, 1, 1))
    assert torch.allclose(shared, torch.full((1, 1, 2, 2), 0.25))

import pytest
import torch

from backdoor.models import create_model, list_models
from backdoor.tasks import TASKS


def _task_for(arch):
    return next(t for t in TASKS.values() if t.arch == arch)


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


def test_mnist_badnet_is_gu_et_als_layout():
    convs = [m for m in create_model("mnist_badnet", TASKS["mnist"]).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(16, (5, 5)), (32, (5, 5))]


def test_unknown_model_is_named_in_the_error():
    with pytest.raises(KeyError, match="Unknown model 'resnet9000'"):
        create_model("resnet9000", TASKS["mnist"])

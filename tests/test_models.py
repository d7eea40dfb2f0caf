import pytest
import torch

from backdoor.models import create_model, list_models
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

"""A shipped network as an ONNX graph that answers with its saliency map too, for the static edition.

ONNX Runtime runs forward passes only, but saliency (`backdoor.saliency.explain`) needs the input
gradient of the top class's logit. So the graph carries the backward pass written out: each layer's
gradient rule, in reverse order: a ReLU's step, a max-pool's routing to its maximum (both smoothed
as `models.for_inference` smooths them), a convolution's transpose, a linear layer's transposed weights. The
graph's outputs are exactly `explain`'s: `probs` (N, K) and `saliency` (N, H, W), each map summing to 1. The
sign finder gets a forward-only graph (`logits_graph`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from backdoor.models import FAR, KINK, TIE, Normalize, SplitTiesMaxPool2d, for_inference

OPSET = 17  # onnxruntime-web 1.30 runs every op used here at this opset


@dataclass
class _Graph:
    """Nodes and weights as they are added; names are numbered so that no two clash."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    weights: list[onnx.TensorProto] = field(default_factory=list)
    count: int = 0
    params: dict[tuple[int, str], str] = field(default_factory=dict)

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def weight(self, stem: str, array: np.ndarray) -> str:
        name = self.name(stem)
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def param(self, layer: nn.Module, attr: str) -> str:
        """A layer's parameter or buffer, added once however many passes use it (the STRIP pass shares them)."""
        key = (id(layer), attr)
        if key not in self.params:
            self.params[key] = self.weight(attr, _numpy(getattr(layer, attr)))
        return self.params[key]

    def op(self, op_type: str, inputs: list[str], outputs: int = 1, **attrs: object) -> list[str]:
        names = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, **attrs))
        return names

    def one(self, op_type: str, inputs: list[str], **attrs: object) -> str:
        return self.op(op_type, inputs, **attrs)[0]


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().contiguous().numpy().astype(np.float32)


def _forward(g: _Graph, layers: list[nn.Module], x: str) -> tuple[str, list[tuple[nn.Module, str, object]]]:
    """The layers applied to `x`: the logits' name, and per layer (layer, its input, what its gradient needs)."""
    records = []
    for layer in layers:
        if isinstance(layer, Normalize):
            std = g.param(layer, "std")
            y, extra = g.one("Div", [g.one("Sub", [x, g.param(layer, "mean")]), std]), std
        elif isinstance(layer, nn.Conv2d):
            if (
                layer.stride != (1, 1) or layer.groups != 1 or layer.dilation != (1, 1)
                or isinstance(layer.padding, str) or layer.padding_mode != "zeros"
            ):  # fmt: skip
                raise ValueError(f"only stride-1, ungrouped, zero-padded convolutions are supported, not {layer}")
            pads, kernel = list(layer.padding) * 2, list(layer.kernel_size)
            w = g.param(layer, "weight")
            inputs = [x, w] + ([g.param(layer, "bias")] if layer.bias is not None else [])
            y, extra = g.one("Conv", inputs, kernel_shape=kernel, pads=pads), (w, pads, kernel)
        elif isinstance(layer, nn.ReLU):
            y, extra = g.one("Relu", [x]), None
        elif isinstance(layer, nn.MaxPool2d):
            if not isinstance(layer, SplitTiesMaxPool2d):
                raise TypeError(f"no gradient rule for {layer}: only non-overlapping k x k windows are supported")
            k = layer.kernel_size
            y = g.one("MaxPool", [x], kernel_shape=[k, k], strides=[k, k])
            extra = (y, k)
        elif isinstance(layer, nn.Flatten):
            y, extra = g.one("Flatten", [x], axis=1), None
        elif isinstance(layer, nn.Linear):
            w = g.param(layer, "weight")
            y, extra = g.one("Gemm", [x, w, g.param(layer, "bias")], transB=1), w
        else:
            raise TypeError(f"no gradient rule for {type(layer).__name__}")
        records.append((layer, x, extra))
        x = y
    return x, records


def _input_gradient(g: _Graph, records: list[tuple[nn.Module, str, object]], grad: str) -> str:
    """The gradient of the logits against the input, for the output gradient `grad`: each layer's rule, last first."""
    kink = g.weight("kink", np.array(KINK, np.float32))  # models.SmoothStepReLU
    for layer, x_in, extra in reversed(records):
        if isinstance(layer, Normalize):
            grad = g.one("Div", [grad, extra])
        elif isinstance(layer, nn.Conv2d):
            w, pads, kernel = extra
            grad = g.one("ConvTranspose", [grad, w], kernel_shape=kernel, pads=pads)
        elif isinstance(layer, nn.ReLU):
            grad = g.one("Mul", [grad, g.one("Sigmoid", [g.one("Div", [x_in, kink])])])
        elif isinstance(layer, SplitTiesMaxPool2d):  # each window's gradient, shared by its tied maxima
            y, k = extra
            scales = g.weight("scales", np.array([1, 1, k, k], np.float32))

            def up(t: str, scales: str = scales) -> str:  # each value repeated over its k x k window
                return g.one("Resize", [t, "", scales], mode="nearest", nearest_mode="floor",
                             coordinate_transformation_mode="asymmetric")  # fmt: skip

            top = up(y)  # models.tie_shares, op for op
            scale = g.one("Mul", [g.one("Add", [g.one("Abs", [top]), g.weight("one", np.array(1.0, np.float32))]),
                                  g.weight("tie", np.array(TIE, np.float32))])  # fmt: skip
            gap = g.one("Div", [g.one("Sub", [x_in, top]), scale])
            weight = g.one("Exp", [g.one("Max", [gap, g.weight("far", np.array(-FAR, np.float32))])])
            total = g.one("Mul", [g.one("AveragePool", [weight], kernel_shape=[k, k], strides=[k, k]),
                                  g.weight("window", np.array(k * k, np.float32))])  # fmt: skip
            grad = g.one("Mul", [up(grad), g.one("Div", [weight, up(total)])])
        elif isinstance(layer, nn.Flatten):
            grad = g.one("Reshape", [grad, g.one("Shape", [x_in])])
        elif isinstance(layer, nn.Linear):
            grad = g.one("MatMul", [grad, extra])
    return grad


def _strip_entropy(g: _Graph, layers: list[nn.Module], x: str, overlays: np.ndarray) -> str:
    """(N,) STRIP's entropy per input (`backdoor.defenses.strip.strip_entropy`): the mean, over the
    overlays, of the entropy in bits of the answers on the input plus each overlay, saturated at 1."""
    m, c, h, w = overlays.shape
    blends = g.one("Min", [g.one("Add", [g.one("Unsqueeze", [x, g.weight("axis1", np.array([1], np.int64))]),
                                         g.weight("overlays", overlays[None])]),
                           g.weight("one", np.array(1.0, np.float32))])  # fmt: skip
    flat = g.one("Reshape", [blends, g.weight("blend_shape", np.array([-1, c, h, w], np.int64))])
    logits, _ = _forward(g, layers, flat)
    probs = g.one("Softmax", [logits], axis=1)
    log2 = g.one("Div", [g.one("Log", [g.one("Max", [probs, g.weight("floor", np.array(1e-12, np.float32))])]),
                         g.weight("ln2", np.array(np.log(2.0), np.float32))])  # fmt: skip
    entropy = g.one("Neg", [g.one("ReduceSum", [g.one("Mul", [probs, log2]), g.weight("axis", np.array([1], np.int64))],
                                  keepdims=0)])  # fmt: skip
    per_input = g.one("Reshape", [entropy, g.weight("n_m", np.array([-1, m], np.int64))])
    return g.one("ReduceMean", [per_input], axes=[1], keepdims=0)


def saliency_graph(
    model: nn.Sequential, input_shape: tuple[int, int, int], name: str = "model", overlays: np.ndarray | None = None
) -> onnx.ModelProto:
    """The ONNX graph of `model` (a trained Sequential, batch norms and all) with its explicit backward pass.

    The input `x` is (N, C, H, W) floats in [0, 1], as `input_shape` gives (C, H, W); N is free. With
    STRIP's `overlays` ((M, C, H, W) floats), a third output `strip_entropy` (N,) runs the check in the
    same call: ONNX Runtime runs every node whichever outputs are asked for, so a separate forward-only
    graph would not be cheaper, and the weights are shared.
    """
    layers = [layer for layer in for_inference(model) if not isinstance(layer, nn.Dropout)]
    g = _Graph()
    logits, records = _forward(g, layers, "x")
    probs = g.one("Softmax", [logits], axis=1)
    classes = layers[-1].out_features
    top = g.one("ArgMax", [logits], axis=1, keepdims=0)
    seed = g.one(
        "OneHot",
        [top, g.weight("depth", np.array([classes], np.int64)), g.weight("off_on", np.array([0.0, 1.0], np.float32))],
        axis=-1,
    )
    grad = _input_gradient(g, records, seed)
    heat = g.one("ReduceMax", [g.one("Abs", [grad])], axes=[1], keepdims=0)
    total = g.one("ReduceSum", [heat, g.weight("hw", np.array([1, 2], np.int64))], keepdims=1)
    tiny = g.weight("tiny", np.array(1e-12, np.float32))
    g.nodes.append(helper.make_node("Div", [heat, g.one("Max", [total, tiny])], ["saliency"]))
    g.nodes.append(helper.make_node("Identity", [probs], ["probs"]))
    _, h, w = input_shape
    outputs = [
        helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", classes]),
        helper.make_tensor_value_info("saliency", TensorProto.FLOAT, ["n", h, w]),
    ]
    if overlays is not None:
        g.nodes.append(helper.make_node("Identity", [_strip_entropy(g, layers, "x", overlays)], ["strip_entropy"]))
        outputs.append(helper.make_tensor_value_info("strip_entropy", TensorProto.FLOAT, ["n"]))
    return _onnx_model(g, name, input_shape, outputs)


def logits_graph(model: nn.Sequential, input_shape: tuple[int, int, int], name: str = "model") -> onnx.ModelProto:
    """The forward pass alone, answering `logits` (N, K): the sign finder scores ~1,200 windows a photo, and the
    saliency graph would run its backward pass and softmax for each of them too, for nothing."""
    layers = [layer for layer in for_inference(model) if not isinstance(layer, nn.Dropout)]
    g = _Graph()
    logits, _ = _forward(g, layers, "x")
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    classes = layers[-1].out_features
    return _onnx_model(
        g, name, input_shape, [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", classes])]
    )


def _onnx_model(
    g: _Graph, name: str, input_shape: tuple[int, int, int], outputs: list[onnx.ValueInfoProto]
) -> onnx.ModelProto:
    c, h, w = input_shape
    graph = helper.make_graph(
        g.nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", c, h, w])], outputs, g.weights
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="backdoor-lab")
    onnx_model.ir_version = 8  # what onnxruntime-web reads
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model

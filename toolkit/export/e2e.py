"""model.e2e.onnx: the image preprocessing folded into the ONNX graph, then the model and a softmax.

Input `image` uint8 [batch, height, width, channels] (any height and width, 1 or 3 channels); outputs
`probabilities` [batch, classes] and `label_index` [batch]. The graph does what
toolkit.runtime.preprocess does, op for op: gray (ITU-R 601 luma), inversion of light backgrounds
(border median > 127), subtraction of a dim background, trimming to the item (5% tolerance), an
aspect-preserving antialiased bicubic resize of the longest side to the model's size, centring, and
8-bit quantisation; an image already of the model's size is taken as it is. Each image is prepared
in a Loop over the batch, since every image gets its own crop. Another app then needs no
preprocessing code at all.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper

from toolkit.runtime.preprocess import TRIM_TOLERANCE

IMAGE, PROBABILITIES, LABEL_INDEX = "image", "probabilities", "label_index"


class Builder:
    """Nodes with generated, unique output names; constants as Constant nodes (valid in subgraphs)."""

    def __init__(self, prefix: str):
        self.prefix, self.nodes, self.count = prefix, [], 0

    def _name(self, hint: str) -> str:
        self.count += 1
        return f"{self.prefix}{hint}_{self.count}"

    def const(self, value, dtype=np.float32) -> str:
        name = self._name("const")
        self.nodes.append(
            helper.make_node("Constant", [], [name], value=onnx.numpy_helper.from_array(np.asarray(value, dtype)))
        )
        return name

    def op(self, op_type: str, *inputs, outputs: int = 1, **attrs):
        names = [self._name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=names[0], **attrs))
        return names[0] if outputs == 1 else names

    def graph(self, name: str, inputs: list, outputs: list) -> onnx.GraphProto:
        return helper.make_graph(self.nodes, name, inputs, outputs)


def _median(b: Builder, values: str) -> str:
    """numpy.median of a 1-D float tensor of even length (a border always is): the mean of the middle two."""
    n = b.op("Shape", values)
    half = b.op("Div", n, b.const([2], np.int64))
    k = b.op("Add", half, b.const([1], np.int64))
    smallest = b.op("TopK", values, k, outputs=2, largest=0, sorted=1)[0]
    low = b.op("Gather", smallest, b.op("Sub", half, b.const([1], np.int64)), axis=0)
    high = b.op("Gather", smallest, half, axis=0)
    return b.op("Mul", b.op("Add", low, high), b.const(0.5))  # [1]


def _border_median(b: Builder, img: str) -> str:
    first_row = b.op("Gather", img, b.const(0, np.int64), axis=0)
    last_row = b.op("Gather", img, b.const(-1, np.int64), axis=0)
    first_col = b.op("Gather", img, b.const(0, np.int64), axis=1)
    last_col = b.op("Gather", img, b.const(-1, np.int64), axis=1)
    return _median(b, b.op("Concat", first_row, last_row, first_col, last_col, axis=0))


def _first_and_end(b: Builder, flags: str) -> tuple:
    """Index of the first nonzero, and one past the last, of a 1-D 0/1 tensor."""
    first = b.op("ArgMax", flags, axis=0, keepdims=1, select_last_index=0)
    last = b.op("ArgMax", flags, axis=0, keepdims=1, select_last_index=1)
    return first, b.op("Add", last, b.const([1], np.int64))


def _reframe_branch(img: str, size: int) -> onnx.GraphProto:
    """Trim to the item, resize the longest side to `size` keeping the aspect ratio, centre: [size, size]."""
    b = Builder("reframe_")
    background = _border_median(b, img)
    mask = b.op(
        "Cast",
        b.op("Greater", b.op("Abs", b.op("Sub", img, background)), b.const(TRIM_TOLERANCE)),
        to=TensorProto.FLOAT,
    )
    rows = b.op("ReduceMax", mask, b.const([1], np.int64), keepdims=0)
    cols = b.op("ReduceMax", mask, b.const([0], np.int64), keepdims=0)
    shape = b.op("Shape", img)
    found = b.op("Greater", b.op("ReduceMax", rows, keepdims=1), b.const([0.0]))
    top, bottom = _first_and_end(b, rows)
    left, right = _first_and_end(b, cols)
    zero = b.const([0], np.int64)
    starts = b.op("Where", found, b.op("Concat", top, left, axis=0), b.op("Concat", zero, zero, axis=0))
    ends = b.op("Where", found, b.op("Concat", bottom, right, axis=0), shape)  # blank image: nothing to trim
    crop = b.op("Slice", img, starts, ends, b.const([0, 1], np.int64))
    extent = b.op("Sub", ends, starts)  # [h, w]
    # new size = max(1, round(extent * size / max(h, w))), in float64 like Python, half to even like round()
    as_double = b.op("Cast", extent, to=TensorProto.DOUBLE)
    scale = b.op("Div", b.const(float(size), np.float64), b.op("ReduceMax", as_double, keepdims=1))
    new_size = b.op(
        "Max", b.op("Cast", b.op("Round", b.op("Mul", as_double, scale)), to=TensorProto.INT64), b.const([1], np.int64)
    )
    resized = b.op(
        "Resize",
        crop,
        "",
        "",
        new_size,
        mode="cubic",
        cubic_coeff_a=-0.5,
        antialias=1,
        exclude_outside=1,
        coordinate_transformation_mode="half_pixel",
    )  # = PIL's BICUBIC
    room = b.op("Sub", b.const([size, size], np.int64), new_size)
    before = b.op("Div", room, b.const([2], np.int64))
    pads = b.op("Concat", before, b.op("Sub", room, before), axis=0)
    out = b.op("Pad", resized, pads, b.const(0.0))
    return b.graph("reframe", [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])


def _loop_body(gray: str, size: int) -> onnx.GraphProto:
    """One image of the batch: polarity, background, (re)framing, quantisation -> [1, size, size]."""
    b = Builder("image_")
    index = "image_index"
    img = b.op("Gather", gray, index, axis=0)  # [H, W]
    invert = b.op("Greater", _border_median(b, img), b.const([127.0]))
    img = b.op("Where", invert, b.op("Sub", b.const(255.0), img), img)
    background = _border_median(b, img)
    dim = b.op("Less", background, b.const([128.0]))
    img = b.op("Where", dim, b.op("Clip", b.op("Sub", img, background), b.const(0.0), b.const(255.0)), img)
    is_model_size = b.op(
        "ReduceMin",
        b.op("Cast", b.op("Equal", b.op("Shape", img), b.const([size, size], np.int64)), to=TensorProto.INT64),
        keepdims=0,
    )
    keep = helper.make_graph(
        [helper.make_node("Identity", [img], ["kept"])],
        "keep",
        [],
        [helper.make_tensor_value_info("kept", TensorProto.FLOAT, None)],
    )
    square = b.op(
        "If", b.op("Cast", is_model_size, to=TensorProto.BOOL), then_branch=keep, else_branch=_reframe_branch(img, size)
    )
    quantised = b.op("Div", b.op("Clip", b.op("Round", square), b.const(0.0), b.const(255.0)), b.const(255.0))
    prepared = b.op("Unsqueeze", quantised, b.const([0], np.int64))
    cond_out = b.op("Identity", "cond_in")
    inputs = [
        helper.make_tensor_value_info(index, TensorProto.INT64, []),
        helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
    ]
    outputs = [
        helper.make_tensor_value_info(cond_out, TensorProto.BOOL, []),
        helper.make_tensor_value_info(prepared, TensorProto.FLOAT, None),
    ]
    return b.graph("prepare_image", inputs, outputs)


def e2e_model(model: onnx.ModelProto, size: int, output_kind: str) -> onnx.ModelProto:
    """Wrap an image classifier's ONNX graph (input [batch, 1, size, size] in [0, 1]) with its preprocessing."""
    b = Builder("pre_")
    pixels = b.op("Cast", IMAGE, to=TensorProto.FLOAT)  # [B, H, W, C]
    channels = b.op("Shape", pixels, start=3, end=4)
    luma = b.const([0.299, 0.587, 0.114])
    single = b.const([1.0, 0.0, 0.0])
    weights = b.op(
        "Slice",
        b.op("Where", b.op("Equal", channels, b.const([3], np.int64)), luma, single),
        b.const([0], np.int64),
        channels,
    )
    gray = b.op("MatMul", pixels, weights)  # [B, H, W]
    batch = b.op("Squeeze", b.op("Shape", gray, start=0, end=1), b.const([0], np.int64))
    prepared = b.op("Loop", batch, "", body=_loop_body(gray, size))  # scan output: [B, 1, size, size]
    b.nodes.append(helper.make_node("Identity", [prepared], [model.graph.input[0].name], name="pre_model_input"))

    post = Builder("post_")
    logits = model.graph.output[0].name
    post.nodes.append(
        helper.make_node("Softmax", [logits], [PROBABILITIES], axis=1, name="post_softmax")
        if output_kind == "logits"
        else helper.make_node("Identity", [logits], [PROBABILITIES], name="post_identity")
    )
    post.nodes.append(
        helper.make_node("ArgMax", [PROBABILITIES], [LABEL_INDEX], axis=1, keepdims=0, name="post_argmax")
    )

    classes = model.graph.output[0].type.tensor_type.shape.dim[1].dim_value
    graph = helper.make_graph(
        b.nodes + list(model.graph.node) + post.nodes,
        "e2e",
        [helper.make_tensor_value_info(IMAGE, TensorProto.UINT8, ["batch", "height", "width", "channels"])],
        [
            helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT, ["batch", classes]),
            helper.make_tensor_value_info(LABEL_INDEX, TensorProto.INT64, ["batch"]),
        ],
        initializer=list(model.graph.initializer),
    )
    e2e = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name="tk")
    e2e.ir_version = model.ir_version
    onnx.checker.check_model(e2e, full_check=True)
    return e2e


def e2e_bytes(model: onnx.ModelProto, size: int, output_kind: str) -> bytes:
    return e2e_model(model, size, output_kind).SerializeToString(deterministic=True)

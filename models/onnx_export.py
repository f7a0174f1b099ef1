"""Exporting a checkpoint's network as an ONNX graph (fp32, eval mode, free batch size and sides)."""

import json
import warnings
from pathlib import Path

from pconvkit.files import atomic_path

ONNX_EXPORT_VERSION = 3  # part of the graph cache's key: bump when the exported graph changes
ONNX_OPSET = 17


def export_onnx(checkpoint, out, data: bytes | None = None):
    """Write the checkpoint's network (default: the bundled model; fp32, eval mode) as an ONNX graph
    with free batch size and sides (`data`: the checkpoint's bytes, where the caller has read them)."""
    import onnx
    import torch

    from pconvkit.models.checkpoint import load_model

    model, _ = load_model(checkpoint, "cpu", data)
    sample = (torch.rand(1, 3, model.stride, model.stride), torch.ones(1, 1, model.stride, model.stride))
    free = {0: "batch", 2: "height", 3: "width"}
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape checks that the graph does not need
        torch.onnx.export(
            model,
            sample,
            str(tmp),
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=["image", "mask"],
            output_names=["output"],
            dynamic_axes={"image": free, "mask": free, "output": free},
        )
        graph = split_skip_concatenations(onnx.load(str(tmp)))
        onnx.helper.set_model_props(graph, {"stride": str(model.stride), "unet": json.dumps(model.config.as_dict())})
        onnx.save(graph, str(tmp))
    return Path(out)


def split_skip_concatenations(graph):
    """Each decoder layer's Conv(Concat(up, skip)) rewritten as Conv(up, W_up) + Conv(skip, W_skip):
    the same sums, but ONNX Runtime's blocked (NCHWc) convolutions then read their inputs in the
    layout the previous layers wrote, with no Concat and no reordering copy of the widest tensors
    (7 % of the bundled network's time at 512 x 512)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    graph = onnx.shape_inference.infer_shapes(graph)
    channels = {
        value.name: value.type.tensor_type.shape.dim[1].dim_value
        for value in list(graph.graph.value_info) + list(graph.graph.input)
        if len(value.type.tensor_type.shape.dim) == 4
    }
    weights = {tensor.name: tensor for tensor in graph.graph.initializer}
    readers = {}
    for node in graph.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    nodes = []
    for node in graph.graph.node:
        conv = (readers.get(node.output[0]) or [None])[0] if node.op_type == "Concat" else None
        split = (
            conv is not None
            and len(readers[node.output[0]]) == 1
            and conv.op_type == "Conv"
            and conv.input[1] in weights
            and len(node.input) == 2
            and channels.get(node.input[0], 0) > 0
            and [a.i for a in node.attribute if a.name == "axis"] == [1]
        )
        if not split:
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(weights[conv.input[1]])
        cut = channels[node.input[0]]
        partial_sums = []
        for part, (source, kernel) in enumerate(zip(node.input, (weight[:, :cut], weight[:, cut:]))):
            name = f"{conv.name}/part{part}"
            graph.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(kernel), name + "/W"))
            bias = list(conv.input[2:]) if part == 0 else []  # the plain network's bias, added once
            partial = helper.make_node("Conv", [source, name + "/W", *bias], [name + "/Y"], name=name)
            partial.attribute.extend(conv.attribute)
            nodes.append(partial)
            partial_sums.append(name + "/Y")
        del conv.attribute[:]
        conv.op_type, conv.input[:] = "Add", partial_sums
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)
    unused = {conv_weight for conv_weight in weights if not any(conv_weight in n.input for n in nodes)}
    kept = [tensor for tensor in graph.graph.initializer if tensor.name not in unused]
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(kept)
    onnx.checker.check_model(graph)
    return graph

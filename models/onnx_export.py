"""Exporting a checkpoint's network as an ONNX graph (fp32, eval mode, free batch size and sides)."""

import json
import warnings
from pathlib import Path

from pconvkit.files import atomic_path

ONNX_EXPORT_VERSION = 1  # part of the graph cache's key: bump when the exported graph changes
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
        graph = onnx.load(str(tmp))
        onnx.helper.set_model_props(graph, {"stride": str(model.stride), "unet": json.dumps(model.config.as_dict())})
        onnx.save(graph, str(tmp))
    return Path(out)

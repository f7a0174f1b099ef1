"""A checkpoint's network run by ONNX Runtime on the CPU (the optional extra `pconvkit[onnx]`)."""

import contextlib
import importlib.util
import json

import numpy as np

from pconvkit.errors import require_extra
from pconvkit.files import atomic_path
from pconvkit.images import composite
from pconvkit.models.onnx_cache import cached_onnx_graph, optimized_graph_path
from pconvkit.models.preprocess import check_fits_in_memory, check_pair, crop_output, pad_to_stride


def onnx_runtime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def require_onnx_runtime():
    require_extra("the ONNX engine (else --engine torch)", "onnx", "onnxruntime", "onnx")


class OnnxInpainter:
    """A checkpoint's network run by ONNX Runtime on the CPU; exported once, cached."""

    def __init__(self, checkpoint=None, cache=None, threads: int | None = None):
        import onnxruntime

        graph = cached_onnx_graph(checkpoint, cache)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = _session(graph, options)
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.stride = int(metadata["stride"])
        self.channel_width = float(json.loads(metadata["unet"])["width"])

    def __call__(self, image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
        check_pair(image, valid_mask)
        check_fits_in_memory(*valid_mask.shape, self.channel_width)
        padded, masks = pad_to_stride(image[None], valid_mask[None], self.stride)
        output = self.session.run(["output"], {"image": padded, "mask": masks})[0]
        return composite(crop_output(output, *valid_mask.shape)[0], image, valid_mask)


def _session(graph, options):
    """An ONNX Runtime session of the graph, started from the graph as ONNX Runtime optimised it for
    this CPU when an earlier call saved that (half the start-up); the first call saves it. The saved
    file holds CPU-specific layouts, so its name carries the CPU's and ONNX Runtime's identity."""
    import onnxruntime

    optimized = optimized_graph_path(graph)
    if optimized.exists():
        level = options.graph_optimization_level
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return onnxruntime.InferenceSession(str(optimized), options, providers=["CPUExecutionProvider"])
        except Exception:  # a damaged copy (ONNX Runtime has no common error class): made again below
            with contextlib.suppress(OSError):
                optimized.unlink(missing_ok=True)
            options.graph_optimization_level = level
    try:
        with atomic_path(optimized) as tmp:
            options.optimized_model_filepath = str(tmp)
            options.log_severity_level = 3  # not its warning that the file is for this CPU: the name says so
            return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except OSError:  # an unwritable cache: start from the graph itself
        options.optimized_model_filepath = ""
        return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

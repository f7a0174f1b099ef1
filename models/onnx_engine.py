"""A checkpoint's network run by ONNX Runtime on the CPU (the optional extra `pconvkit[onnx]`)."""

import importlib.util
import json

import numpy as np

from pconvkit.errors import require_extra
from pconvkit.images import composite
from pconvkit.models.onnx_cache import cached_onnx_graph
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
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.stride = int(metadata["stride"])
        self.channel_width = float(json.loads(metadata["unet"])["width"])

    def __call__(self, image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
        check_pair(image, valid_mask)
        check_fits_in_memory(*valid_mask.shape, self.channel_width)
        padded, masks = pad_to_stride(image[None], valid_mask[None], self.stride)
        output = self.session.run(["output"], {"image": padded, "mask": masks})[0]
        return composite(crop_output(output, *valid_mask.shape)[0], image, valid_mask)

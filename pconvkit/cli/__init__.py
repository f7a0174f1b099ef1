"""Command-line interface: thin click layers over the library functions.

    maskgen    the mask pipeline of Section 4.1 (flow -> occlusion -> raw pools -> binned test set)
    benchmark  evaluation and tables (Section 4.3), the sample data and the user study
    pconv      training, inpainting one image, converting checkpoints (Sections 3-4.2)

One module per group (`maskgen_commands`, `benchmark_commands` with `study_commands`,
`pconv_commands`); the options two commands share are defined once, in `options`. Each entry point
loads only its own group: `from pconvkit.cli import pconv` imports no benchmark code.

A mistake in the input ends in a one-line error and exit status 1, never a traceback.
"""

import importlib

_GROUPS = {"maskgen": "maskgen_commands", "benchmark": "benchmark_commands", "pconv": "pconv_commands"}
__all__ = list(_GROUPS)


def __getattr__(name):
    if name in _GROUPS:
        return getattr(importlib.import_module(f"{__name__}.{_GROUPS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

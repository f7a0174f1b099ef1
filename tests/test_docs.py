"""The Examples sections of the public API run as doctests."""

import doctest
import importlib

import pytest

PUBLIC = (
    "pconvkit.models.partialconv",
    "pconvkit.models.unet",
    "pconvkit.models.loss",
    "pconvkit.models.inference",
    "pconvkit.maskgen.build",
    "pconvkit.benchmark.metrics",
    "pconvkit.benchmark.methods",
    "pconvkit.benchmark.confidence",
    "pconvkit.benchmark.sweep",
    "pconvkit.models.superres",
)


@pytest.mark.parametrize("name", PUBLIC)
def test_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0

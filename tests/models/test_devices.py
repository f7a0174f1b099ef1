"""Choosing the torch device from --device: an unknown name is a one-line error."""

import numpy as np
from click.testing import CliRunner
from helpers import inpaint_in, one_line_error

from pconvkit.cli import pconv
from pconvkit.files import write_png_atomic

runner = CliRunner()


def test_a_device_name_torch_does_not_know_is_a_one_line_error(tmp_path):
    write_png_atomic(tmp_path / "image.png", np.zeros((32, 32, 3), np.uint8))
    write_png_atomic(tmp_path / "mask.png", np.full((32, 32), 255, np.uint8))
    one_line_error(
        runner.invoke(
            pconv,
            inpaint_in(tmp_path, "--engine", "torch", "--device", "gpu0"),
        ),
        "--device gpu0: not a device name",
    )

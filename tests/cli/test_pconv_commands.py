"""`pconv inpaint` on any image, and a one-line error for each kind of bad input."""

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import inpaint_arguments, one_error_line, one_line_error, valid_mask

from pconvkit.cli import pconv
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png

runner = CliRunner()


def test_pconv_inpaint_refuses_a_grey_mask_in_one_line(tmp_path):
    write_image(tmp_path / "photo.png", np.random.default_rng(0).random((64, 64, 3)))
    cv2.imwrite(str(tmp_path / "m.png"), np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1)))
    out = tmp_path / "out.png"
    line = one_error_line(
        runner.invoke(
            pconv,
            inpaint_arguments(str(tmp_path / "photo.png"), str(tmp_path / "m.png"), str(out), "--engine", "torch"),
        )
    )
    assert "--mask-threshold" in line and not out.exists()


def test_an_inverted_single_mask_names_hole_white(tmp_path):
    write_image(tmp_path / "photo.png", np.random.default_rng(0).random((64, 64, 3)))
    write_png_atomic(tmp_path / "m.png", mask_to_png(valid_mask(), hole_white=True))  # white = hole
    args = ["inpaint", str(tmp_path / "photo.png"), str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png")]
    assert "--hole-white" in one_error_line(runner.invoke(pconv, args + ["--engine", "torch"]))
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_pconv_inpaint_any_image(tmp_path):
    import torch

    from pconvkit.models.checkpoint import save_checkpoint
    from pconvkit.models.unet import PConvUNet, UNetConfig

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "m.pt", PConvUNet(UNetConfig(layers=3, width=0.125)))
    gray = (np.random.default_rng(0).random((30, 41)) * 255).astype(np.uint8)
    write_png_atomic(tmp_path / "gray.png", gray)
    valid = np.ones((30, 41), np.uint8)
    valid[5:15, 5:20] = 0
    write_png_atomic(tmp_path / "hole_white.png", mask_to_png(valid, hole_white=True))
    result = runner.invoke(
        pconv,
        [
            "inpaint",
            str(tmp_path / "gray.png"),
            str(tmp_path / "hole_white.png"),
            "--hole-white",
            "-o",
            str(tmp_path / "out.png"),
            "--checkpoint",
            str(tmp_path / "m.pt"),
        ],
    )
    assert result.exit_code == 0, result.output
    import cv2

    out = cv2.imread(str(tmp_path / "out.png"))
    assert out.shape == (30, 41, 3) and (out[valid == 1][:, 0] == gray[valid == 1]).all()
    write_png_atomic(tmp_path / "small.png", np.ones((10, 10), np.uint8) * 255)
    one_line_error(
        runner.invoke(
            pconv,
            [
                "inpaint",
                str(tmp_path / "gray.png"),
                str(tmp_path / "small.png"),
                "-o",
                str(tmp_path / "o.png"),
                "--checkpoint",
                str(tmp_path / "m.pt"),
            ],
        ),
        "mask is 10x10",
    )


def test_pconv_inpaint_rejects_tiny_and_missing_inputs(tmp_path):
    write_png_atomic(tmp_path / "tiny.png", np.zeros((8, 8, 3), np.uint8))
    write_png_atomic(tmp_path / "mask.png", np.full((8, 8), 255, np.uint8))
    one_line_error(
        runner.invoke(
            pconv, ["inpaint", str(tmp_path / "tiny.png"), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.png")]
        ),
        "smaller than 16 px",
    )
    one_line_error(
        runner.invoke(
            pconv, ["inpaint", str(tmp_path / "none.png"), str(tmp_path / "mask.png"), "-o", str(tmp_path / "o.png")]
        ),
        "image not found",
    )
    write_png_atomic(tmp_path / "image.png", np.zeros((32, 32, 3), np.uint8))
    one_line_error(
        runner.invoke(
            pconv, ["inpaint", str(tmp_path / "image.png"), str(tmp_path / "none.png"), "-o", str(tmp_path / "o.png")]
        ),
        "mask not found",
    )


def test_an_output_image_name_that_opencv_cannot_write_is_refused_before_inpainting(tmp_path):
    image = (np.random.default_rng(1).random((32, 32, 3)) * 255).astype(np.uint8)
    write_png_atomic(tmp_path / "image.png", image)
    write_png_atomic(tmp_path / "mask.png", np.full((32, 32), 255, np.uint8))
    inputs = [str(tmp_path / "image.png"), str(tmp_path / "mask.png"), "--checkpoint", str(tmp_path / "none.pt")]
    # the missing checkpoint would be the error if the name were checked only after the network ran
    one_line_error(
        runner.invoke(pconv, ["inpaint"] + inputs + ["-o", str(tmp_path / "out.jpgx")]), "its name must end in .png"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.png", "mask.png"]
    (tmp_path / "folder").mkdir()
    one_line_error(runner.invoke(pconv, ["inpaint"] + inputs + ["-o", str(tmp_path / "folder")]), "it is a folder")

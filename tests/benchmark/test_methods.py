import re

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import one_error_line, run_arguments, valid_mask

from pconvkit.benchmark.methods import make_method, register
from pconvkit.cli import benchmark
from pconvkit.errors import UserError
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import composite, mask_to_png

runner = CliRunner()


@pytest.mark.parametrize("name", ["telea", "ns", "biharmonic", "mean", "patchmatch"])
def test_methods_leave_known_pixels_and_fill_holes_plausibly(name):
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    image = np.dstack([xx, yy, 0.5 * np.ones_like(xx)]).astype(np.float32)  # a smooth ramp
    valid = np.ones((64, 64), np.uint8)
    valid[20:36, 24:40] = 0
    output = make_method(name)(image, valid)
    assert output.shape == image.shape
    result = composite(output, image, valid)
    assert np.array_equal(result[valid == 1], image[valid == 1])
    hole_error = np.abs(result - image)[valid == 0].mean()
    assert hole_error < 0.2


def test_unknown_method_and_plugin(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="unknown method"):
        make_method("nope")
    (tmp_path / "myplugin.py").write_text("def fill(image, mask):\n    return image * 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert make_method("myplugin:fill")(np.ones((2, 2, 3)), np.ones((2, 2))).sum() == 0
    with pytest.raises(UserError, match="cannot import"):
        make_method("myplugin:missing")


def test_register_adds_a_named_method():
    @register("zeros-for-test")
    def zeros(**_):
        return lambda image, mask: np.zeros_like(image)

    assert make_method("zeros-for-test")(np.ones((2, 2, 3)), None).sum() == 0


@pytest.mark.parametrize(
    "body,message",
    [
        ("raise ValueError('no GPU here')", "failed on mask .* ValueError: no GPU here"),
        ("return image[:10]", "returned an array of shape"),
        ("return (image * 255).astype('uint8')", "returned an array of shape .* type uint8"),
        ("return image * 0 + 128.0", "not 0-255"),  # a grey fill in 0-255 units
        ("return image * float('nan')", "NaN"),
    ],
)
def test_a_plugin_that_fails_is_named_with_its_pair_and_the_rows_before_are_kept(tmp_path, body, message, monkeypatch):
    module = f"plugin_{len(body)}_{body.count('*')}"  # one module per case: imports are cached
    (tmp_path / f"{module}.py").write_text(
        f"calls = []\ndef inpaint(image, mask):\n    calls.append(1)\n    if len(calls) < 3:\n        return image\n"
        f"    {body}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rng = np.random.default_rng(7)
    for i in range(4):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    line = one_error_line(runner.invoke(benchmark, run_arguments(tmp_path, f"{module}:inpaint")))
    assert re.search(message, line) and f"{module}:inpaint" in line
    assert len((tmp_path / "out" / "results.csv").read_text().splitlines()) == 3  # header and the two rows before


@pytest.mark.parametrize("name,flag", [("telea", "INPAINT_TELEA"), ("ns", "INPAINT_NS")])
def test_the_opencv_baselines_are_opencvs_call_byte_for_byte_on_an_inner_hole(name, flag):
    """Away from the border (where the padding of `_opencv_inpaint` plays no part) each baseline is
    the OpenCV call its name stands for, with the paper's radius of 3, and not the other flag."""
    import cv2
    from helpers import textured

    photo = (textured((64, 80, 3), seed=4) * 255).astype(np.uint8)
    valid = np.ones((64, 80), np.uint8)
    valid[20:36, 25:50] = 0
    ours = make_method(name)(photo.astype(np.float32) / 255, valid)
    reference = cv2.inpaint(photo, (valid == 0).astype(np.uint8) * 255, 3, getattr(cv2, flag))
    assert np.array_equal(np.round(ours * 255).astype(np.uint8), reference)
    other = cv2.inpaint(
        photo, (valid == 0).astype(np.uint8) * 255, 3, cv2.INPAINT_NS + cv2.INPAINT_TELEA - getattr(cv2, flag)
    )
    assert not np.array_equal(reference, other)


def test_biharmonic_runs_on_the_block_means_of_the_known_pixels_at_a_quarter_of_the_size(monkeypatch):
    import skimage.restoration

    handed = []

    def recording(image, holes, **options):
        handed.append((image.copy(), holes.copy()))
        return image

    monkeypatch.setattr(skimage.restoration, "inpaint_biharmonic", recording)
    rng = np.random.default_rng(0)
    image = rng.random((64, 96, 3)).astype(np.float32)
    valid = np.ones((64, 96), np.uint8)
    valid[10:30, 20:61] = 0
    assert make_method("biharmonic")(image, valid).shape == image.shape
    small, holes = handed[0]
    blocks = lambda a: a.reshape(16, 4, 24, 4, -1).sum(axis=(1, 3))  # noqa: E731
    known = blocks(image * valid[..., None]) / np.maximum(blocks(valid[..., None].astype(np.float32)), 1e-6)
    np.testing.assert_allclose(small, known, atol=1e-5)
    assert holes.shape == (16, 24) and holes[5, 10] and not holes[0, 0]


def test_the_opencv_baselines_pad_by_reflection_with_the_margin_marked_as_hole():
    """A hole on the border: OpenCV on the image reflected outwards by radius + 2 px, the margin
    itself a hole (so that OpenCV's frame handling reads no hole pixel as known), cropped back."""
    import cv2
    from helpers import textured

    photo = (textured((48, 48, 3), seed=2) * 255).astype(np.uint8)
    photo[40:, :8] = 255  # saturated pixels stay 255
    valid = np.ones((48, 48), np.uint8)
    valid[0:12, 30:48] = 0
    margin = 3 + 2
    padded = cv2.copyMakeBorder(photo, *[margin] * 4, cv2.BORDER_REFLECT_101)
    holes = np.pad((valid == 0).astype(np.uint8) * 255, margin, constant_values=255)
    reference = cv2.inpaint(padded, holes, 3, cv2.INPAINT_TELEA)[margin:-margin, margin:-margin]
    ours = make_method("telea")(photo.astype(np.float32) / 255, valid)
    assert np.array_equal(np.round(ours * 255).astype(np.uint8), reference)


def test_a_fingerprint_holds_the_options_and_the_weights_but_not_the_device():
    from pconvkit.benchmark.methods import method_fingerprint
    from pconvkit.files import file_hash
    from pconvkit.models import BUNDLED_CONV_WEIGHTS

    assert method_fingerprint("telea", radius=1) != method_fingerprint("telea", radius=15)
    # an option whose name sorts before "device" counts as much as any other
    assert method_fingerprint("pconv", batch_size=1, alpha=1) != method_fingerprint("pconv", batch_size=1, alpha=2)
    assert method_fingerprint("telea", device="cpu") == method_fingerprint("telea", device="cuda")
    assert method_fingerprint("conv") == method_fingerprint("conv", weights_hash=file_hash(BUNDLED_CONV_WEIGHTS))


@pytest.mark.parametrize("name", ["telea", "ns"])
def test_black_and_white_known_pixels_reach_opencv_as_0_and_255(name):
    """The float image goes to OpenCV as rint(255 x value), clipped to 0-255: pure black stays 0."""
    image = np.zeros((24, 24, 3), np.float32)
    image[:, 12:] = 1.0
    valid = np.ones((24, 24), np.uint8)
    valid[8:16, 4:20] = 0
    output = make_method(name)(image, valid)
    assert output[valid == 1].min() == 0.0 and output[valid == 1].max() == 1.0
    assert output[:, :2].max() == 0.0 and output[:, -2:].min() == 1.0  # far from the hole: unchanged


def test_a_plugins_fingerprint_follows_its_source(tmp_path, monkeypatch):
    """A plug-in without __version__ is versioned by its source file's hash: an edit changes it."""
    from pconvkit.benchmark.methods import method_fingerprint

    monkeypatch.syspath_prepend(str(tmp_path))
    prints = []
    for body in ("return image", "return image * 1"):
        (tmp_path / "edited_plugin.py").write_text(f"def inpaint(image, mask):\n    {body}\n")
        prints.append(method_fingerprint("edited_plugin:inpaint"))
    assert prints[0] != prints[1]


def test_a_name_with_two_dots_cannot_name_scored_outputs():
    from pconvkit.benchmark.methods import check_scored_name

    check_scored_name("ours-1.5")
    with pytest.raises(UserError, match="cannot name a method"):
        check_scored_name("ours..b")


def test_the_mean_fill_is_the_mean_of_the_known_pixels_and_grey_without_any():
    rng = np.random.default_rng(1)
    image = rng.random((16, 16, 3)).astype(np.float32)
    valid = np.ones((16, 16), np.uint8)
    valid[4:9, 4:12] = 0
    expected = image[valid == 1].mean(axis=0)
    np.testing.assert_allclose(make_method("mean")(image, valid)[6, 6], expected, rtol=1e-6)
    assert (make_method("mean")(image, np.zeros_like(valid)) == 0.5).all()


def test_patchmatch_is_pypatchmatchs_call_byte_for_byte():
    patch_match = pytest.importorskip("patchmatch.patch_match", reason="the patchmatch extra is not installed")
    from helpers import textured

    photo = (textured((48, 48, 3), seed=5) * 255).astype(np.uint8)
    photo[:8, :8] = 255  # saturated pixels stay 255
    valid = np.ones((48, 48), np.uint8)
    valid[15:30, 12:33] = 0
    reference = patch_match.inpaint(photo, (valid == 0).astype(np.uint8) * 255, patch_size=3)
    ours = make_method("patchmatch")(photo.astype(np.float32) / 255, valid)
    assert np.array_equal(np.round(ours * 255).astype(np.uint8), reference)


def test_patchmatch_without_its_extra_says_which_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "patchmatch", None)  # the import fails, as where it is not installed
    with pytest.raises(UserError, match=r"pip install 'pconvkit\[patchmatch\]'"):
        make_method("patchmatch")


def test_the_networks_are_built_once_and_fingerprinted_by_their_own_weights(monkeypatch, tmp_path):
    from pconvkit.benchmark import methods
    from pconvkit.files import file_hash
    from pconvkit.models import BUNDLED_WEIGHTS

    assert methods.METHODS["pconv"].neural and methods.METHODS["conv"].neural
    assert methods.method_fingerprint("pconv") == methods.method_fingerprint("pconv", file_hash(BUNDLED_WEIGHTS))
    assert methods.method_fingerprint("conv", "a") != methods.method_fingerprint("conv", "b")
    monkeypatch.setattr("pconvkit.models.BUNDLED_CONV_WEIGHTS", tmp_path / "missing.pt")
    with pytest.raises(UserError, match="needs --conv-checkpoint"):
        make_method("conv")


def test_a_device_option_built_at_run_time_is_left_out_of_the_fingerprint_too():
    from pconvkit.benchmark.methods import method_fingerprint

    key = "".join(["dev", "ice"])  # an option name made at run time, as a command line makes it: not interned
    assert method_fingerprint("telea", **{key: "cuda"}) == method_fingerprint("telea")


def test_a_conv_method_named_at_run_time_is_fingerprinted_by_the_conv_weights():
    from pconvkit.benchmark.methods import method_fingerprint
    from pconvkit.files import file_hash
    from pconvkit.models import BUNDLED_CONV_WEIGHTS

    name = "".join(["co", "nv"])  # as a command line makes it: not the interned literal
    assert method_fingerprint(name) == method_fingerprint("conv", weights_hash=file_hash(BUNDLED_CONV_WEIGHTS))


@pytest.mark.parametrize("name", ["truth", "Damaged", "-ours", "our method"])
def test_reserved_and_unplain_names_cannot_name_scored_outputs(name):
    from pconvkit.benchmark.methods import check_scored_name

    with pytest.raises(UserError, match="cannot name a method"):
        check_scored_name(name)

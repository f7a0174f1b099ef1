import numpy as np
import pytest

from pconvkit.benchmark.methods import make_method, register
from pconvkit.errors import UserError
from pconvkit.images import composite


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

"""File names and folders of every kind: names that are not UTF-8 (OpenCV's path handling crashed on
them, exit 139), two files with one id, method names that are paths or another method's name, and
photos stored sideways with an EXIF orientation tag."""

import io
import os

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import box_masks, gradient_photos, one_error_line, run_arguments

from pconvkit.cli import benchmark, maskgen, pconv
from pconvkit.errors import UserError
from pconvkit.files import write_image
from pconvkit.images import read_image, read_mask

BAD_NAME = b"caf\xe9.png"  # Latin-1, not UTF-8


def _bad_copy(folder, source):
    """A copy of `source` in `folder` under a name that is not UTF-8."""
    target = os.path.join(os.fsencode(folder), BAD_NAME)
    with open(target, "wb") as handle:
        handle.write(source.read_bytes())


@pytest.fixture
def inputs(tmp_path):
    gradient_photos(tmp_path / "images", count=2)
    box_masks(tmp_path / "masks", [(10, 30, 10, 30), (20, 40, 5, 50)])
    return tmp_path


def _names_the_file(line):
    return "caf\\xe9.png" in line and "UTF-8" in line


def test_a_photo_with_a_name_that_is_not_utf8_is_named_not_crashed_on(inputs):
    _bad_copy(inputs / "images", inputs / "images" / "p0.png")
    assert _names_the_file(one_error_line(CliRunner().invoke(benchmark, run_arguments(inputs))))
    assert not (inputs / "out" / "results.csv").exists()


def test_a_mask_with_a_name_that_is_not_utf8_is_named_by_run_classify_and_train(inputs):
    _bad_copy(inputs / "masks", inputs / "masks" / "m00.png")
    assert _names_the_file(one_error_line(CliRunner().invoke(benchmark, run_arguments(inputs))))
    assert _names_the_file(one_error_line(CliRunner().invoke(maskgen, ["classify", str(inputs / "masks")])))
    train = ["train", "--images", str(inputs / "images"), "--masks", str(inputs / "masks"), "--steps", "1"]
    result = CliRunner().invoke(pconv, [*train, "--out", str(inputs / "ckpt"), "--size", "256"])
    assert _names_the_file(one_error_line(result))


def test_inpaint_of_a_file_whose_name_is_not_utf8_is_named(inputs):
    _bad_copy(inputs, inputs / "images" / "p0.png")
    bad = os.path.join(os.fsencode(inputs), BAD_NAME).decode(errors="surrogateescape")
    result = CliRunner().invoke(pconv, ["inpaint", bad, str(inputs / "masks" / "m00.png"), "-o", str(inputs / "o.png")])
    assert _names_the_file(one_error_line(result)) and not (inputs / "o.png").exists()


def test_two_masks_with_one_id_in_two_sub_folders_are_refused(inputs):
    (inputs / "masks" / "a").mkdir()
    (inputs / "masks" / "b").mkdir()
    for sub in ("a", "b"):
        (inputs / "masks" / sub / "m09.png").write_bytes((inputs / "masks" / "m00.png").read_bytes())
    line = one_error_line(CliRunner().invoke(benchmark, run_arguments(inputs)))
    assert "'m09'" in line and "rename one" in line


def test_import_nvidia_of_two_folders_with_the_same_file_names_is_refused(tmp_path):
    for part in ("part1", "part2"):
        box_masks(tmp_path / "nvidia" / part, [(10, 30, 10, 30)])  # m00.png in both
    result = CliRunner().invoke(maskgen, ["import-nvidia", str(tmp_path / "nvidia"), "--out", str(tmp_path / "out")])
    assert "'m00'" in one_error_line(result)
    assert not (tmp_path / "out" / "test" / "manifest.csv").exists()


@pytest.mark.parametrize("name", ["../../x", "a/b", "truth", "gt", "telea", "..", ".hidden", "a:b", "x" * 65, ""])
def test_score_refuses_a_method_name_that_is_a_path_a_builtin_or_reserved(inputs, name):
    result = CliRunner().invoke(benchmark, run_arguments(inputs))
    assert result.exit_code == 0, result.output
    before = sorted(p.relative_to(inputs) for p in inputs.rglob("*"))
    score = ["score", str(inputs / "out"), "--method", name, "--outputs", str(inputs / "images")]
    one_error_line(CliRunner().invoke(benchmark, [*score, "--images", str(inputs / "images")]))
    assert sorted(p.relative_to(inputs) for p in inputs.rglob("*")) == before  # nothing written anywhere


def test_report_pictures_of_two_methods_named_alike_are_two_files():
    from pconvkit.benchmark.report import _slug

    names = ["mod:fill", "mod.fill", "mod_fill", "mod-fill"]
    assert len({_slug(n) for n in names}) == len(names)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_an_exif_orientation_is_applied_as_pillow_applies_it(tmp_path, orientation):
    """Pillow's ImageOps.exif_transpose is the reference: the photo a viewer shows."""
    from PIL import Image, ImageOps

    rng = np.random.default_rng(orientation)
    stored = (rng.random((24, 40, 3)) * 255).astype(np.uint8)
    stored[:4, :8] = 255  # a corner that shows where the top left went
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = orientation
    for suffix, options in ((".jpg", dict(quality=100)), (".png", {}), (".webp", dict(lossless=True))):
        path = tmp_path / f"photo{suffix}"
        picture.save(path, exif=exif.tobytes(), **options)
        with Image.open(path) as shown:
            expected = np.asarray(ImageOps.exif_transpose(shown).convert("RGB"), np.float32) / 255
        assert np.array_equal(read_image(path), expected), (suffix, orientation)


def test_a_mask_drawn_on_the_upright_photo_is_read_upright(tmp_path):
    from PIL import Image

    valid = np.ones((20, 30), np.uint8)
    valid[2:6, 3:12] = 0
    upright = Image.fromarray(valid * 255)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # stored turned; orientation 6 turns it back
    exif = stored.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "PNG", exif=exif.tobytes())
    (tmp_path / "mask.png").write_bytes(buffer.getvalue())
    assert np.array_equal(read_mask(tmp_path / "mask.png"), valid)


def test_a_damaged_file_behind_a_good_name_is_one_line(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((20, 20, 3)))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (tmp_path / "c.jpg").write_bytes(b"")
    for name in ("b.png", "c.jpg"):
        with pytest.raises(UserError, match="cannot read image"):
            read_image(tmp_path / name)

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import one_error_line

from pconvkit.errors import UserError
from pconvkit.maskgen.flowio import read_flow, write_flow

runner = CliRunner()


def random_flow(seed=0, shape=(13, 17)):
    return (np.random.default_rng(seed).normal(size=shape + (2,)) * 20).astype(np.float32)


@pytest.mark.parametrize("suffix", [".flo", ".pfm", ".npy"])
def test_lossless_round_trip(tmp_path, suffix):
    flow = random_flow()
    write_flow(tmp_path / f"f{suffix}", flow)
    back, valid = read_flow(tmp_path / f"f{suffix}")
    assert np.array_equal(back, flow) and valid.all()


def test_kitti_png_round_trip_to_a_64th_pixel(tmp_path):
    flow = random_flow()
    valid = np.random.default_rng(1).random(flow.shape[:2]) > 0.3
    write_flow(tmp_path / "f.png", flow, valid)
    back, back_valid = read_flow(tmp_path / "f.png")
    assert np.array_equal(back_valid, valid)
    assert np.abs(back[valid] - flow[valid]).max() <= 0.5 / 64 + 1e-6


def test_kitti_png_marks_vectors_beyond_its_range_invalid_instead_of_clipping_them(tmp_path):
    flow = np.zeros((3, 4, 2), np.float32)
    flow[0, 0] = (600.0, 1.0)  # beyond the format's +-512 px
    flow[1, 1] = (-511.5, 511.0)  # inside it
    write_flow(tmp_path / "f.png", flow)
    back, valid = read_flow(tmp_path / "f.png")
    assert not valid[0, 0] and valid.sum() == 11
    assert np.array_equal(back[valid], flow[valid])


def test_kitti_png_channel_order(tmp_path):
    flow = np.zeros((4, 5, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0
    write_flow(tmp_path / "f.png", flow)

    raw = cv2.imread(str(tmp_path / "f.png"), cv2.IMREAD_UNCHANGED)
    assert (raw[..., 2] == 3 * 64 + 2**15).all() and (raw[..., 1] == -2 * 64 + 2**15).all() and (raw[..., 0] == 1).all()


def test_flo_layout_is_middlebury(tmp_path):
    flow = random_flow()
    write_flow(tmp_path / "f.flo", flow)
    data = (tmp_path / "f.flo").read_bytes()
    assert data[:4] == b"PIEH"
    assert np.frombuffer(data[4:12], "<i4").tolist() == [17, 13]
    assert np.array_equal(np.frombuffer(data[12:], "<f4").reshape(13, 17, 2), flow)


def test_flo_unknown_values_are_invalid(tmp_path):
    flow = random_flow()
    valid = np.ones(flow.shape[:2], bool)
    valid[2, 3] = False
    write_flow(tmp_path / "f.flo", flow, valid)
    _, back_valid = read_flow(tmp_path / "f.flo")
    assert np.array_equal(back_valid, valid)


def test_pfm_rows_are_bottom_up(tmp_path):
    flow = np.zeros((3, 2, 2), np.float32)
    flow[0] = 1.0  # top row
    write_flow(tmp_path / "f.pfm", flow)
    data = (tmp_path / "f.pfm").read_bytes()
    body = np.frombuffer(data[len(b"PF\n2 3\n-1.0\n") :], "<f4").reshape(3, 2, 3)
    assert (body[-1, :, :2] == 1).all() and (body[0] == 0).all()


@pytest.mark.parametrize("suffix", [".flo", ".pfm"])
def test_truncated_file_is_rejected(tmp_path, suffix):
    write_flow(tmp_path / f"f{suffix}", random_flow())
    data = (tmp_path / f"f{suffix}").read_bytes()
    (tmp_path / f"f{suffix}").write_bytes(data[:-10])
    with pytest.raises(UserError, match="truncated"):
        read_flow(tmp_path / f"f{suffix}")


def test_wrong_magic_is_rejected(tmp_path):
    (tmp_path / "f.flo").write_bytes(b"NOPE" + bytes(100))
    with pytest.raises(UserError, match="magic"):
        read_flow(tmp_path / "f.flo")


def test_nan_flow_is_rejected(tmp_path):
    flow = random_flow()
    flow[1, 1, 0] = np.nan
    np.save(tmp_path / "f.npy", flow)
    with pytest.raises(UserError, match="NaN"):
        read_flow(tmp_path / "f.npy")


@pytest.mark.parametrize(
    "name,content",
    [
        ("forward_0_1.npy", "strings"),
        ("forward_0_1.npy", "empty"),
        ("forward_0_1.pfm", b"PF\n-4 3\n-1.0\n" + b"\0" * 48),
        ("forward_0_1.pfm", b"PF\n4 3\n-1.0\n"),
        ("forward_0_1.flo", b"PIEH" + b"\0" * 4),
    ],
)
def test_malformed_flow_files_end_in_one_line(tmp_path, name, content):
    from pconvkit.cli import maskgen

    folder = tmp_path / "flows" / "v"
    folder.mkdir(parents=True)
    if content == "strings":
        np.save(folder / name, np.full((4, 4, 2), "x"))
    elif content == "empty":
        np.save(folder / name, np.zeros((0, 0, 2), np.float32))
    else:
        (folder / name).write_bytes(content)
    backward = folder / name.replace("forward_0_1", "backward_1_0")
    backward.write_bytes((folder / name).read_bytes())
    one_error_line(
        runner.invoke(maskgen, ["build", "--flow-dir", str(tmp_path / "flows"), "--out", str(tmp_path / "o")])
    )

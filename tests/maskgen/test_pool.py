"""Raw mask pools: flows split by video into train and test, the same pool for any number of workers,
and pools of other settings never reused."""

import numpy as np
import pytest
from helpers import write_square_flows

from pconvkit.errors import UserError
from pconvkit.files import write_png_atomic
from pconvkit.images import read_mask
from pconvkit.maskgen.flowcompute import FlowSettings
from pconvkit.maskgen.flowio import write_flow
from pconvkit.maskgen.pool import RawMaskSettings, assign_splits, build_raw_pools, videos_from_inputs


def test_raw_pools_of_other_settings_are_not_reused(tmp_path):
    from helpers import write_square_flows

    from pconvkit.maskgen.pool import RawMaskSettings, build_raw_pools, videos_from_inputs

    write_square_flows(tmp_path / "flows", "alpha", [(0, 1), (10, 11)])
    write_square_flows(tmp_path / "flows", "beta", [(0, 1), (12, 13)])
    videos = videos_from_inputs(flow_dir=tmp_path / "flows")
    settings = RawMaskSettings(min_component_area=8, duplicate_iou=0.99)
    build_raw_pools(videos, tmp_path / "out", 0, 0, test_videos=["beta"], settings=settings)
    with pytest.raises(UserError, match="raw_mask_settings"):
        build_raw_pools(
            videos,
            tmp_path / "out",
            0,
            0,
            test_videos=["beta"],
            settings=RawMaskSettings(min_component_area=16, duplicate_iou=0.99),
        )
    with pytest.raises(UserError, match="splits"):
        build_raw_pools(videos, tmp_path / "out", 0, 0, test_videos=["alpha"], settings=settings)
    assert build_raw_pools(videos, tmp_path / "out", 0, 0, test_videos=["beta"], settings=settings)["test"]


def test_flow_folder_pools_split_by_video_and_refuse_padding(tmp_path):
    flows = tmp_path / "flows"
    write_square_flows(flows, "alpha", [(0, 1), (10, 11)])
    write_square_flows(flows, "beta", [(0, 1), (12, 13)])
    videos = videos_from_inputs(flow_dir=flows)
    settings = RawMaskSettings(min_component_area=8, duplicate_iou=0.99)
    pools = build_raw_pools(videos, tmp_path / "out", 0, 0, test_videos=["beta"], settings=settings)
    assert {r["video"] for r in pools["train"]} == {"alpha"} and {r["video"] for r in pools["test"]} == {"beta"}
    assert len(pools["train"]) == 2
    with pytest.raises(UserError, match=r"give 2 test raw masks, 50 asked"):
        build_raw_pools(videos, tmp_path / "out", 0, 50, test_videos=["beta"], settings=settings)


def test_split_assignment_is_deterministic_and_keeps_videos_whole():
    names = [f"video{i}" for i in range(10)]
    splits = assign_splits(names)
    assert splits == assign_splits(list(reversed(names)))
    assert sum(s == "test" for s in splits.values()) == 3


@pytest.mark.parametrize(
    "problem,message",
    [("empty", "no forward_I_J"), ("sizes", "is 80x64 but"), ("missing-backward", "has no backward flow")],
)
def test_bad_flow_folders(tmp_path, problem, message):
    flows = tmp_path / "flows"
    (flows / "v").mkdir(parents=True)
    if problem != "empty":
        write_flow(flows / "v" / "forward_0_1.flo", np.zeros((64, 80, 2), np.float32))
    if problem == "sizes":
        write_flow(flows / "v" / "backward_1_0.flo", np.zeros((32, 80, 2), np.float32))
    with pytest.raises(UserError, match=message):
        videos = videos_from_inputs(flow_dir=flows)
        build_raw_pools(videos, tmp_path / "out", 0, 0)


def test_raw_pool_from_frames_is_the_same_for_any_number_of_workers(tmp_path):
    """A textured square moving over a textured background, as a folder of frames, through DIS flow."""
    from helpers import textured

    background = (textured((96, 128), seed=1) * 255).astype(np.uint8)
    square = (textured((32, 32), seed=2) * 255).astype(np.uint8)
    for t in range(5):
        frame = background.copy()
        frame[30:62, 20 + 6 * t : 52 + 6 * t] = square
        write_png_atomic(tmp_path / "frames" / "clip" / f"{t:03d}.png", frame)
    videos = videos_from_inputs(frames=[tmp_path / "frames" / "clip"])
    settings = RawMaskSettings(min_component_area=16, duplicate_iou=1.0, flow=FlowSettings(frame_gaps=(1, 2)))
    one = build_raw_pools(videos, tmp_path / "one", 0, 0, settings=settings, workers=1)
    two = build_raw_pools(videos, tmp_path / "two", 0, 0, settings=settings, workers=2)
    assert one == two and len(one["train"]) == 7
    for row in one["train"]:
        assert (tmp_path / "one" / "raw" / "train" / f"{row['raw_id']}.png").read_bytes() == (
            tmp_path / "two" / "raw" / "train" / f"{row['raw_id']}.png"
        ).read_bytes()
        holes = read_mask(tmp_path / "one" / "raw" / "train" / f"{row['raw_id']}.png") == 0
        assert holes[:, :14].sum() < 0.05 * holes.sum() and holes[:, 100:].sum() < 0.05 * holes.sum()

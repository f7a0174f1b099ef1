import pytest

from pconvkit.benchmark.grid import grid_pairs
from pconvkit.errors import UserError


def test_grid_pairs_one_border_mask_per_bin_or_the_named_ones(tmp_path):
    rows = ["mask,image,category,bin,path,hole_white,threshold"]
    for i, (category, bin_name) in enumerate(
        [("N", "0.01-0.1"), ("B", "0.01-0.1"), ("B", "0.01-0.1"), ("B", "0.1-0.2")]
    ):
        rows.append(f"{i:05d},photo{i},{category},{bin_name},masks/test/{category}/{bin_name}/{i:05d}.png,{i % 2},")
    (tmp_path / "pairing.csv").write_text("\n".join(rows) + "\n")
    pairs = grid_pairs(tmp_path)
    assert sorted(mask.bin for mask, _ in pairs) == ["0.01-0.1", "0.1-0.2"]
    assert [mask.hole_white for mask, _ in pairs] == [False, True]  # the polarity each mask was run with
    assert pairs[0][0].path == tmp_path / "masks/test/B/0.01-0.1/00002.png"
    assert all(mask.category == "B" for mask, _ in pairs)
    assert [(mask.mask_id, image) for mask, image in grid_pairs(tmp_path, ["00000"])] == [("00000", "photo0")]
    with pytest.raises(UserError, match="matches --mask-ids"):
        grid_pairs(tmp_path, ["99999"])
    with pytest.raises(UserError, match="no pairing.csv"):
        grid_pairs(tmp_path / "elsewhere")
    (tmp_path / "pairing.csv").write_text("mask,image,category,bin,path\n00000,photo0,N,0.01-0.1,m.png\n")
    with pytest.raises(UserError, match="older pconvkit"):
        grid_pairs(tmp_path)


def test_comparison_grid_has_a_tile_per_method_and_the_format_of_its_name(tmp_path):
    import cv2
    import numpy as np

    from pconvkit.benchmark.data import MaskEntry
    from pconvkit.benchmark.grid import comparison_grid
    from pconvkit.files import write_png_atomic
    from pconvkit.images import mask_to_png

    y, x = np.mgrid[0:64, 0:64] / 63.0
    image = np.stack([x, y, 0.5 + 0.4 * np.sin(6 * x)], axis=-1).astype(np.float32)  # smooth: JPEG keeps it
    valid = np.ones((64, 64), np.uint8)
    valid[20:40, 10:30] = 0
    write_png_atomic(tmp_path / "m.png", mask_to_png(valid))
    pairs = [(MaskEntry("00000", tmp_path / "m.png", "N", "0.01-0.1"), "photo")]
    out = comparison_grid(pairs, {"photo": image}, ["mean", "telea"], tmp_path / "grid.jpg", thumb=64)
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG, as the name says
    picture = cv2.imread(str(out))
    assert picture.shape == (28 + 64, 4 * 64, 3)  # label row; input | mean | telea | ground truth
    tiles = picture[28:].reshape(64, 4, 64, 3).transpose(1, 0, 2, 3)
    assert tiles[0][24:36, 14:26].mean() > 240  # the input shows the hole in white (JPEG blurs its edge)
    truth = cv2.cvtColor((image * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR)
    assert np.abs(tiles[3].astype(int) - truth).mean() < 3  # JPEG of the unchanged photo
    with pytest.raises(UserError, match="its name must end in"):
        comparison_grid(pairs, {"photo": image}, ["mean"], tmp_path / "grid.gif", thumb=64)

import pytest

from benchmark.grid import grid_pairs
from pconvkit.errors import UserError


def test_grid_pairs_one_border_mask_per_bin_or_the_named_ones(tmp_path):
    rows = ["mask,image,category,bin,path"]
    for i, (category, bin_name) in enumerate([("N", "0.01-0.1"), ("B", "0.01-0.1"), ("B", "0.01-0.1"), ("B", "0.1-0.2")]):
        rows.append(f"{i:05d},photo{i},{category},{bin_name},masks/test/{category}/{bin_name}/{i:05d}.png")
    (tmp_path / "pairing.csv").write_text("\n".join(rows) + "\n")
    pairs = grid_pairs(tmp_path)
    assert sorted(mask.bin for mask, _ in pairs) == ["0.01-0.1", "0.1-0.2"]
    assert all(mask.category == "B" for mask, _ in pairs)
    assert [(mask.mask_id, image) for mask, image in grid_pairs(tmp_path, ["00000"])] == [("00000", "photo0")]
    with pytest.raises(UserError, match="matches --masks"):
        grid_pairs(tmp_path, ["99999"])
    with pytest.raises(UserError, match="no pairing.csv"):
        grid_pairs(tmp_path / "elsewhere")

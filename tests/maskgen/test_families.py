"""Other mask families fill all 12 cells, re-measure into them, and are deterministic."""

import hashlib

import pytest
from click.testing import CliRunner

from pconvkit.cli import maskgen
from pconvkit.images import read_mask
from pconvkit.maskgen.bins import bin_label, classify
from pconvkit.maskgen.manifest import read_manifest


@pytest.mark.parametrize("family", ["rect", "strokes-thin", "strokes-medium", "strokes-thick"])
def test_a_family_fills_every_cell_and_its_masks_measure_into_it(tmp_path, family):
    arguments = ["build", "--family", family, "--per-bin", "2", "--size", "256", "--border-margin", "25", "--out"]
    result = CliRunner().invoke(maskgen, arguments + [str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    rows = read_manifest(tmp_path / "a" / "test")
    assert {(r["category"], r["bin"]) for r in rows} == {(c, bin_label(i)) for i in range(6) for c in "NB"}
    assert len(rows) == 24
    for row in rows:
        category, index, _ = classify(read_mask(tmp_path / "a" / "test" / row["path"]), margin=25)
        assert (category, bin_label(index)) == (row["category"], row["bin"])
    again = CliRunner().invoke(maskgen, arguments + [str(tmp_path / "b")])
    assert again.exit_code == 0

    def digest(folder):
        return hashlib.sha256((folder / "test" / "manifest.csv").read_bytes()).hexdigest()

    assert digest(tmp_path / "a") == digest(tmp_path / "b")  # same seed, same bytes


@pytest.mark.parametrize("size, margin", [(64, 50), (341, 50), (100, 25)])
def test_a_size_whose_n_masks_cannot_reach_the_last_bin_is_refused_before_drawing(tmp_path, size, margin):
    from helpers import one_error_line

    arguments = ["build", "--family", "rect", "--per-bin", "2", "--size", str(size), "--border-margin", str(margin)]
    line = one_error_line(CliRunner().invoke(maskgen, [*arguments, "--out", str(tmp_path / "m")]))
    assert f"--size {size}" in line and "0.5-0.6" in line
    assert not list(tmp_path.rglob("*.png"))

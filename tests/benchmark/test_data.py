"""Benchmark inputs: masks of the wrong polarity stopped before anything runs, a resumed run kept to
its own pairing."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import gradient_photos, mmagic_entries, one_error_line, one_line_error, run_arguments, run_command

from pconvkit.benchmark.results import read_csv_rows, read_pairing
from pconvkit.cli import benchmark
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png

runner = CliRunner()


def test_an_inverted_mask_folder_is_stopped_before_anything_runs(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(6):
        valid = np.ones((64, 64), np.uint8)
        valid[10 : 20 + 4 * i, 10:40] = 0
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid, hole_white=True))
    write_image(tmp_path / "images" / "a.png", rng.random((64, 64, 3)))
    args = run_arguments(tmp_path, "mean", "out")
    assert "--hole-white" in one_error_line(runner.invoke(benchmark, args))
    assert not (tmp_path / "out" / "results.csv").exists()
    result = runner.invoke(benchmark, args + ["--hole-white"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(benchmark, args[:-2] + ["--out", str(tmp_path / "out2"), "--mostly-hole"])
    assert "no mask matches" in one_error_line(result)  # accepted as mostly hole, but then no mask is in a bin


def test_resumed_run_refuses_another_pairing(tmp_path, mask_folder, image_folder):
    arguments = run_command("mean", str(mask_folder), image_folder, str(tmp_path))
    assert runner.invoke(benchmark, arguments).exit_code == 0
    before = (tmp_path / "results.csv").read_bytes()
    one_line_error(runner.invoke(benchmark, arguments + ["--seed", "5"]), "another mask-image pairing")
    assert (tmp_path / "results.csv").read_bytes() == before


# ------------------------------------------------------------------ a published pairing (--pairs)


def _mask(path, rows, hole_white=False):
    valid = np.ones((64, 64), np.uint8)
    valid[5 : 5 + rows, 10:40] = 0
    write_png_atomic(path, mask_to_png(valid, hole_white))


@pytest.fixture
def pair_inputs(tmp_path):
    gradient_photos(tmp_path / "images", count=3)
    for i in range(5):
        _mask(tmp_path / "masks" / f"m{i}.png", 4 + 4 * i)
    _mask(tmp_path / "masks" / "tiny.png", 1)  # 0.7 % hole: outside every bin
    return tmp_path


def run_pairs(pair_inputs, pairs, *extra):
    arguments = ["run", "--methods", "mean", "--images", str(pair_inputs / "images"), "--pairs", str(pairs)]
    return CliRunner().invoke(benchmark, [*arguments, "--size", "64", "--out", str(pair_inputs / "out"), *extra])


def test_a_csv_pairing_is_scored_as_published_pair_for_pair_and_in_order(pair_inputs):
    published = [("p2.png", "m3.png", "a"), ("p0", "m1.png", ""), ("p2.png", "m0.png", "z"), ("p1.png", "m4.png", "b")]
    published.append(("p1.png", "tiny.png", "t"))
    text = "image,mask,id\n" + "".join(f"{i},{m},{k}\n" for i, m, k in published)
    (pair_inputs / "masks" / "pairs.csv").write_text(text)
    result = run_pairs(pair_inputs, pair_inputs / "masks" / "pairs.csv")
    assert result.exit_code == 0, result.output
    assert "1 of 5 pairs have masks outside the paper's bins" in result.output
    pairing = [(mask.mask_id, image) for mask, image in read_pairing(pair_inputs / "out")]
    assert pairing == [("a", "p2"), ("m1", "p0"), ("z", "p2"), ("b", "p1"), ("t", "p1")]  # every pair, in order
    rows = read_csv_rows(pair_inputs / "out" / "results.csv")
    assert [(r["mask"], r["image"]) for r in rows] == pairing
    assert [r["bin"] for r in rows][-1] == "outside" and float(rows[-1]["hole_ratio"]) == 30 / 64**2
    paper = CliRunner().invoke(benchmark, ["table", str(pair_inputs / "out")])
    assert "1 scored masks lie outside these bins and are not in the table" in paper.output
    lama = CliRunner().invoke(benchmark, ["table", str(pair_inputs / "out"), "--bins", "lama", "--format", "csv"])
    assert lama.exit_code == 0 and "outside these bins" not in lama.output
    cells = {(r["metric"], r["column"]): float(r["value"]) for r in csv.DictReader(io.StringIO(lama.output))}
    for column, low, high in (("0-10% N+B", 0, 0.1), ("10-20% N+B", 0.1, 0.2)):  # tiny (0.7 %) in the first
        inside = [float(r["l1"]) for r in rows if low <= float(r["hole_ratio"]) < high]
        assert len(inside) == (3 if low == 0 else 2)
        assert cells[("l1 (%)", column)] == pytest.approx(np.mean(inside), abs=1e-9)


def test_an_mmagic_annotation_file_is_paired_by_mmagics_rule(pair_inputs):
    """The rule of mmagic_entries (tests/helpers.py): a line's first word is the file in images/ and masks/."""
    folder = pair_inputs / "mmagic"
    lines = ["p1.png 512 512\n", "\n", "p0.png\n", "p2.png x\n"]
    for line in lines:
        if line.strip():
            name = line.split(" ")[0].strip()
            (folder / "images").mkdir(parents=True, exist_ok=True)
            (folder / "images" / name).write_bytes((pair_inputs / "images" / name).read_bytes())
            _mask(folder / "masks" / name, 4 + len(name) + lines.index(line), hole_white=True)
    (folder / "test.txt").write_text("".join(lines))
    expected = [(Path(image).stem, Path(mask)) for image, mask in mmagic_entries(folder, "test.txt")]
    arguments = ["run", "--methods", "mean", "--images", str(folder / "images"), "--pairs", str(folder / "test.txt")]
    result = CliRunner().invoke(benchmark, [*arguments, "--size", "64", "--out", str(folder / "out"), "--hole-white"])
    assert result.exit_code == 0, result.output
    pairing = [(image, mask.path) for mask, image in read_pairing(folder / "out")]
    assert [(i, p.resolve()) for i, p in pairing] == [(i, p.resolve()) for i, p in expected]
    assert [image for image, _ in pairing] == ["p1", "p0", "p2"]


def test_a_lama_style_folder_is_paired_by_lamas_rule(pair_inputs):
    folder = pair_inputs / "lama"
    for name, rows in (("cat", 8), ("dog_2", 12)):
        (folder / f"{name}.png").parent.mkdir(exist_ok=True)
        (folder / f"{name}.png").write_bytes((pair_inputs / "images" / "p0.png").read_bytes())
        _mask(folder / f"{name}_mask000.png", rows, hole_white=True)
    (pair_inputs / "images" / "cat.png").write_bytes((pair_inputs / "images" / "p0.png").read_bytes())
    (pair_inputs / "images" / "dog_2.png").write_bytes((pair_inputs / "images" / "p1.png").read_bytes())
    result = run_pairs(pair_inputs, folder, "--hole-white")
    assert result.exit_code == 0, result.output
    assert [(m.mask_id, i) for m, i in read_pairing(pair_inputs / "out")] == [
        ("cat_mask000", "cat"),
        ("dog_2_mask000", "dog_2"),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("image,mask\np9.png,m0.png\n", "not among the given --images"),
        ("image,mask,id\np0.png,m0.png,x\np1.png,m1.png,x\n", "there twice"),
        ("photo,file\np0.png,m0.png\n", "needs the columns image and mask"),
        ("image,mask\np0.png,gone.png\n", "mask not found"),
    ],
)
def test_a_pairs_file_that_cannot_be_scored_as_published_is_one_line(pair_inputs, text, message):
    (pair_inputs / "masks" / "pairs.csv").write_text(text)
    assert message in one_error_line(run_pairs(pair_inputs, pair_inputs / "masks" / "pairs.csv"))
    assert not (pair_inputs / "out" / "results.csv").exists()


def test_a_pairs_file_that_is_not_utf8_csv_is_one_line(pair_inputs):
    (pair_inputs / "masks" / "pairs.csv").write_bytes(b"\xff\xfe\x00garbage")
    assert "not a UTF-8 CSV file" in one_error_line(run_pairs(pair_inputs, pair_inputs / "masks" / "pairs.csv"))

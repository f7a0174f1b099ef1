"""`benchmark merge` tried with shards that are not one run's: each is refused by what the shards
record, in one line, and nothing is written; a good merge at another depth keeps working mask paths."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import one_error_line

from pconvkit.benchmark.results import read_results
from pconvkit.cli import benchmark
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png


def _masks(folder, shift=0):
    for i in range(6):
        valid = np.ones((64, 64), np.uint8)
        valid[5 : 15 + 3 * i, 10 + shift : 40 + shift] = 0
        write_png_atomic(folder / f"m{i}.png", mask_to_png(valid))


@pytest.fixture
def inputs(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
    _masks(tmp_path / "masks")
    return tmp_path


def shard(inputs, out, index, methods="telea,mean", *extra):
    arguments = ["run", "--methods", methods, "--images", str(inputs / "images"), "--masks", str(inputs / "masks")]
    arguments += ["--size", "64", "--out", str(inputs / out), "--shard", f"{index}/2", *extra]
    result = CliRunner().invoke(benchmark, arguments)
    assert result.exit_code == 0, result.output
    return inputs / out


def refused(inputs, *folders) -> str:
    result = CliRunner().invoke(benchmark, ["merge", *map(str, folders), "--out", str(inputs / "merged")])
    line = one_error_line(result)
    assert not (inputs / "merged").exists() or not any((inputs / "merged").iterdir())  # nothing written
    return line


def test_shards_of_other_methods_are_refused(inputs):
    assert "ran telea where the first ran mean, telea" in refused(
        inputs, shard(inputs, "s1", 1), shard(inputs, "s2", 2, "telea")
    )


def test_shards_of_another_seed_are_refused_in_two_folders_and_in_one(inputs):
    assert "different pairings" in refused(
        inputs, shard(inputs, "s1", 1), shard(inputs, "s2", 2, "telea,mean", "--seed", "4")
    )
    arguments = ["run", "--methods", "telea,mean", "--images", str(inputs / "images"), "--masks", str(inputs / "masks")]
    arguments += ["--size", "64", "--out", str(inputs / "s1"), "--shard", "2/2", "--seed", "4"]
    before = (inputs / "s1" / "pairing.csv").read_text()
    line = one_error_line(CliRunner().invoke(benchmark, arguments))  # into the first shard's folder
    assert "holds shards of another run" in line and (inputs / "s1" / "pairing.csv").read_text() == before


def test_shards_of_rebuilt_masks_are_refused(inputs):
    first = shard(inputs, "s1", 1)
    _masks(inputs / "masks", shift=3)  # the same names, other holes
    assert "different pairings" in refused(inputs, first, shard(inputs, "s2", 2))


def test_shards_of_an_edited_plug_in_are_refused(inputs, monkeypatch):
    monkeypatch.syspath_prepend(str(inputs))
    (inputs / "myfill.py").write_text("def fill(image, mask):\n    return image * 0 + 0.5\n")
    first = shard(inputs, "s1", 1, "myfill:fill")
    (inputs / "myfill.py").write_text("def fill(image, mask):\n    return image * 0 + 0.25\n")
    assert "another myfill:fill" in refused(inputs, first, shard(inputs, "s2", 2, "myfill:fill"))


@pytest.mark.parametrize("damage", ["torn", "empty"])
def test_a_torn_or_empty_shard_is_refused(inputs, damage):
    first, second = shard(inputs, "s1", 1), shard(inputs, "s2", 2)
    path = second / "results-shard-2-of-2.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2] if damage == "torn" else lines[:1]))
    assert "an interrupted or torn shard" in refused(inputs, first, second)


def test_a_stray_copy_of_a_shard_is_refused(inputs):
    first, second = shard(inputs, "s1", 1), shard(inputs, "s2", 2)
    stray = inputs / "stray"
    stray.mkdir()
    shutil.copy(first / "pairing.csv", stray)
    shutil.copy(first / "results-shard-1-of-2.csv", stray)  # without its record
    assert "no record beside it" in refused(inputs, stray, second)
    shutil.copy(first / "results-shard-1-of-2.json", stray)
    assert "there twice" in refused(inputs, first, second, stray)
    record = json.loads((stray / "results-shard-1-of-2.json").read_text())
    (stray / "results-shard-1-of-2.json").write_text(json.dumps(record | dict(shard=2)))
    assert "renamed" in refused(inputs, stray, second)
    (stray / "results-shard-1-of-2.json").write_text("{cut")
    assert "damaged" in refused(inputs, stray, second)


def test_a_merge_at_another_depth_keeps_working_mask_paths(inputs):
    first, second = shard(inputs, "s1", 1), shard(inputs, "s2", 2)
    deep = inputs / "a" / "b" / "merged"
    result = CliRunner().invoke(benchmark, ["merge", str(first), str(second), "--out", str(deep)])
    assert result.exit_code == 0, result.output
    assert len(read_results(deep / "results.csv")) == 12
    grid = ["grid", str(deep), "--methods", "telea", "--images", str(inputs / "images"), "--out", str(inputs / "g.png")]
    result = CliRunner().invoke(benchmark, grid)
    assert result.exit_code == 0, result.output

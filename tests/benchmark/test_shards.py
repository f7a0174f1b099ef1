"""Shards of one run: merged into the rows one unsharded run writes (in separate processes and
folders, with every metric vector), and refused when they are not one run's."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pconvkit.benchmark.results import read_results
from pconvkit.benchmark.shards import merge_shards
from pconvkit.cli import benchmark
from pconvkit.errors import UserError
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png

runner = CliRunner()


@pytest.fixture
def inputs(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
    for i in range(7):
        valid = np.ones((64, 64), np.uint8)
        valid[5 : 15 + 3 * i, 10:40] = 0
        write_png_atomic(tmp_path / "masks" / f"m{i}.png", mask_to_png(valid))
    return tmp_path


def run(inputs, out, *extra):
    return [
        "run",
        "--methods",
        "telea,mean",
        "--images",
        str(inputs / "images"),
        "--masks",
        str(inputs / "masks"),
        "--size",
        "64",
        "--out",
        str(out),
        *extra,
    ]


def without_seconds(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


@pytest.mark.slow
def test_shards_in_separate_processes_merge_into_the_unsharded_rows(inputs):
    assert runner.invoke(benchmark, run(inputs, inputs / "whole")).exit_code == 0
    command = str(Path(sys.executable).with_name("benchmark"))
    shards = [
        subprocess.Popen(
            [command, *run(inputs, inputs / "shared", "--shard", f"{i}/3")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        for i in (1, 2, 3)
    ]
    for process in shards:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    files = sorted(p.name for p in (inputs / "shared").glob("results-shard-*.csv"))
    assert files == [f"results-shard-{i}-of-3.csv" for i in (1, 2, 3)]
    assert "benchmark merge" in runner.invoke(benchmark, ["table", str(inputs / "shared")]).output
    result = runner.invoke(benchmark, ["merge", str(inputs / "shared"), "--out", str(inputs / "shared")])
    assert result.exit_code == 0, result.output
    merged, whole = read_results(inputs / "shared" / "results.csv"), read_results(inputs / "whole" / "results.csv")
    assert without_seconds(merged) == without_seconds(whole) and len(whole) == 14
    table = runner.invoke(benchmark, ["table", str(inputs / "shared"), "--format", "csv"]).output
    assert table == runner.invoke(benchmark, ["table", str(inputs / "whole"), "--format", "csv"]).output


def test_missing_duplicated_or_foreign_shards_are_refused(inputs):
    for i in (1, 2):
        assert runner.invoke(benchmark, run(inputs, inputs / f"s{i}", "--shard", f"{i}/2")).exit_code == 0
    with pytest.raises(UserError, match="shard 2 of 2 is missing"):
        merge_shards([inputs / "s1"], inputs / "m1")
    shutil.copy(inputs / "s1" / "results-shard-1-of-2.csv", inputs / "s2")
    with pytest.raises(UserError, match="shard 1 is there twice"):
        merge_shards([inputs / "s1", inputs / "s2"], inputs / "m2")
    (inputs / "s2" / "results-shard-1-of-2.csv").unlink()
    assert runner.invoke(benchmark, run(inputs, inputs / "s3", "--shard", "2/2", "--seed", "4")).exit_code == 0
    with pytest.raises(UserError, match="different pairings"):
        merge_shards([inputs / "s1", inputs / "s3"], inputs / "m3")
    assert runner.invoke(benchmark, run(inputs, inputs / "s4", "--shard", "3/3")).exit_code == 0
    with pytest.raises(UserError, match="different shard counts"):
        merge_shards([inputs / "s1", inputs / "s2", inputs / "s4"], inputs / "m4")
    assert merge_shards([inputs / "s1", inputs / "s2"], inputs / "m5").exists()


@pytest.mark.parametrize("value", ["0/3", "4/3", "1/0", "a/b", "2"])
def test_a_shard_outside_its_run_is_refused_when_the_command_line_is_read(value):
    result = runner.invoke(benchmark, ["run", "--masks", "missing", "--shard", value])
    assert result.exit_code == 2 and "--shard" in result.output


class _StubNetworks:
    """Stands in for Inception-v3 and the TF-Inception port (their weights cannot be downloaded):
    class probabilities and features that are functions of the image's colours."""

    def __init__(self, weights_path, device="cpu"):
        pass

    def probabilities(self, images):
        logits = np.asarray(images).mean(axis=(1, 2)) * 4
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    def logits(self, images):
        return np.asarray(images)[:, ::8, ::8, 0].reshape(len(images), -1) * 5

    def features(self, images):
        images = np.asarray(images)
        return np.concatenate(
            [images.mean(axis=(1, 2)), images.std(axis=(1, 2)), images[:, ::16, ::16, 0].reshape(len(images), -1)],
            axis=1,
        )


def test_shards_in_separate_folders_merge_with_every_metric_vector(tmp_path, monkeypatch):
    import pconvkit.benchmark.run
    import pconvkit.benchmark.tables
    from pconvkit.benchmark.data import load_images, load_masks
    from pconvkit.benchmark.run import MetricWeights, run_benchmark
    from pconvkit.benchmark.tables import summarise

    monkeypatch.setattr(pconvkit.benchmark.run, "InceptionClassifier", _StubNetworks)
    monkeypatch.setattr(pconvkit.benchmark.run, "InceptionFeatures", _StubNetworks)
    monkeypatch.setattr(pconvkit.benchmark.tables, "FID_MIN_IMAGES", 2)  # FID from a few images, for the test
    rng = np.random.default_rng(1)
    for i in range(4):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
    for i in range(12):  # one cell (0.01-0.1 B) with enough masks for the Inception score
        valid = np.ones((64, 64), np.uint8)
        valid[0 : 4 + i % 3, 10 + i : 30 + i] = 0
        write_png_atomic(tmp_path / "masks" / f"m{i:02d}.png", mask_to_png(valid))
    images, masks = load_images(tmp_path / "images", 64), load_masks(tmp_path / "masks")
    weights = MetricWeights(inception="stub", fid="stub")
    quiet = dict(metric_weights=weights, log=lambda *_: None)
    run_benchmark(["mean", "telea"], images, masks, tmp_path / "whole", **quiet)
    for i in (1, 2, 3):
        run_benchmark(["mean", "telea"], images, masks, tmp_path / f"shard{i}", shard=(i, 3), **quiet)
    merge_shards([tmp_path / f"shard{i}" for i in (1, 2, 3)], tmp_path / "merged")
    whole, merged = summarise(tmp_path / "whole"), summarise(tmp_path / "merged")
    assert {"is", "is_drop"} <= set(whole.cells["metric"])
    assert (
        merged.cells.sort_values(["method", "metric", "column"])
        .reset_index(drop=True)
        .equals(whole.cells.sort_values(["method", "metric", "column"]).reset_index(drop=True))
    )
    assert whole.distribution is not None and whole.distribution["fid"].notna().all()
    assert merged.distribution is not None
    assert merged.distribution.reset_index(drop=True).equals(whole.distribution.reset_index(drop=True))

import io
import re

import numpy as np
import pandas as pd
import pytest

from pconvkit.benchmark.render import to_csv, to_latex, to_markdown
from pconvkit.benchmark.results import RESULT_FIELDS, read_results
from pconvkit.benchmark.tables import PAPER_TABLE1, column_labels, summarise, table1
from pconvkit.errors import UserError


def write_results(path, rows):
    """rows: (method, mask, image, category, bin, l1[, hole ratio]); the ratio defaults to the bin's middle."""
    lines = [",".join(RESULT_FIELDS)]
    for method, mask, image, category, bin_, l1, *ratio in rows:
        low, high = (float(edge) for edge in bin_.split("-"))
        row = dict(
            hole_ratio=ratio[0] if ratio else (low + high) / 2,
            ssim_full=1 - l1 / 9,
            psnr_hole=30 - l1,
            lpips_box="nan",
            method=method,
            method_id="m",
            mask=mask,
            mask_hash="h" + mask,
            image=image,
            image_hash="i" + image,
            category=category,
            bin=bin_,
            l1=l1,
            psnr=40 - l1,
            ssim=1 - l1 / 10,
            l1_hole=2 * l1,
            lpips="nan",
            seconds=0.1,
            device="cpu",
        )
        lines.append(",".join(str(row[field]) for field in RESULT_FIELDS))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def results(tmp_path):
    """Two methods over 8 masks on 4 photos in two cells: in 0.01-0.1 N 'a' is clearly better (l1
    about 1 against 3); in 0.1-0.2 B the two are level (a tie)."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(8):
        image = f"photo{k % 4}"
        noise = rng.normal(0, 0.1)
        rows += [("a", f"{k}", image, "N", "0.01-0.1", 1.0 + noise), ("b", f"{k}", image, "N", "0.01-0.1", 3.0 + noise)]
        level, shift = rng.normal(2.0, 0.5), (0.3, -0.3, 0.1, -0.1)[k % 4]  # per photo; they cancel out
        rows += [("a", f"1{k}", image, "B", "0.1-0.2", level), ("b", f"1{k}", image, "B", "0.1-0.2", level + shift)]
    write_results(tmp_path / "results.csv", rows)
    with open(tmp_path / "results.csv", "a") as handle:
        handle.write("b,m,9,h,img,i,N,0.01")  # a torn last line from an interrupted run
    return tmp_path


def test_torn_lines_are_skipped(results):
    assert len(read_results(results / "results.csv")) == 32


def _by_row(table) -> dict:
    """{(metric, method): {column: cell}} of a rendered table."""
    return {(r[0], r[1]): dict(zip(table.columns, r[len(table.labels) :])) for r in table.rows}


def _bold(cells: dict) -> set:
    return {column for column, cell in cells.items() if cell is not None and cell.best}


def test_cells_carry_their_interval_and_bold_marks_only_significant_winners(results):
    summary = summarise(results)
    table = table1(summary)
    row = _by_row(table)
    cell = row["l1 (%)", "a"]["0.01-0.1 N"]
    value, low, high = cell.value, cell.low, cell.high
    frame = pd.read_csv(results / "results.csv").dropna(subset=["device"])
    expected = frame[(frame.method == "a") & (frame.category == "N")]["l1"].mean()
    assert value == pytest.approx(expected) and low < value < high
    assert _bold(row["l1 (%)", "a"]) == {"0.01-0.1 N", "0.1-0.2 B"}  # the winner, and tied in 0.1-0.2 B
    assert _bold(row["l1 (%)", "b"]) == {"0.1-0.2 B"}  # tied only
    markdown = to_markdown(table)
    assert f"| l1 (%) | a | **{value:.2f} [{low:.2f}, {high:.2f}]** |" in markdown
    assert "GL (not run)" in markdown and "bootstrap over photos" in markdown and "4 images" in markdown
    not_run = {metric for metric, method in row if method.endswith("(not run)")}
    assert not_run == {"l1 (%)", "PSNR", "SSIM"}  # the paper's own cells, where its rows would go
    long = pd.read_csv(io.StringIO(to_csv(table)))
    picked = long[(long.metric == "l1 (%)") & (long.method == "a") & (long.column == "0.01-0.1 N")].iloc[0]
    assert picked.value == pytest.approx(expected) and picked.best == 1 and picked.ci_low == pytest.approx(low)


def test_paired_differences_against_a_method(results):
    summary = summarise(results, against="a")
    row = _by_row(table1(summary))
    difference = row["l1 (%)", "b - a"]["0.01-0.1 N"]
    assert difference.value == pytest.approx(2.0, abs=1e-9)
    assert difference.low == pytest.approx(2.0) and difference.high == pytest.approx(2.0)
    tie = row["l1 (%)", "b - a"]["0.1-0.2 B"]
    assert tie.low < tie.value < tie.high and tie.low < 0 < tie.high
    assert not any(_bold(cells) for (_, method), cells in row.items() if " - " in method)  # differences never bold


def test_with_paper_rows_and_latex_structure(results):
    summary = summarise(results)
    table = table1(summary, with_paper=True)
    latex = to_latex(table)
    assert latex.count("{") == latex.count("}")
    body = [line for line in latex.splitlines() if line.endswith(r"\\") and " & " in line][2:]
    assert len(body) == len(table.rows)  # one row per method x metric
    assert all(line.count("&") == 13 for line in body)
    assert r"\textbf{" in latex and r"{\tiny [" in latex
    paper = _by_row(table)["PSNR", "PConv (paper)"]
    assert [paper[c].value for c in column_labels()] == PAPER_TABLE1["psnr"]["PConv"]
    assert re.search(r"l1 \(\\%\) & PConv \(paper\) & 0\.49 & 0\.47", latex)


def test_the_cluster_bootstrap_resamples_photos_not_pairs():
    from pconvkit.benchmark.confidence import cluster_bootstrap

    values, photos = [1.0, 2.0, 4.0, 7.0], ["a", "b", "c", "d"]
    once = cluster_bootstrap(values, photos)
    fourfold = cluster_bootstrap(values * 4, photos * 4)  # each photo's pair repeated: no new information
    assert once == pytest.approx(fourfold)
    assert cluster_bootstrap([3.0] * 6, list("aabbcc")) == (3.0, 3.0, 3.0)  # no spread, no interval
    mean, low, high = cluster_bootstrap([5.0, 6.0], ["x", "x"])
    assert mean == 5.5 and np.isnan(low) and np.isnan(high)  # one photo: the spread between photos is unknown


def test_the_paper_table_is_transcribed_in_our_column_order():
    from pathlib import Path

    from pconvkit.benchmark import tables

    header = (Path(tables.__file__).with_name("paper_table1.csv")).read_text().splitlines()[0].split(",")
    assert header[2:] == column_labels()
    assert PAPER_TABLE1["l1"]["PConv"][0] == 0.49 and PAPER_TABLE1["ssim"]["PConv"][-1] == 0.484
    assert {m: len(v) for m, v in PAPER_TABLE1["psnr"].items()} == dict.fromkeys(
        ["PM", "GL", "GntIpt", "Conv", "PConv"], 12
    )


def test_the_total_column_is_every_pair_with_its_interval_over_photos(results):
    from pconvkit.benchmark.confidence import cluster_bootstrap
    from pconvkit.benchmark.tables import TOTAL

    summary = summarise(results, total=True)
    table = table1(summary)
    assert table.columns[-1] == TOTAL and table.subheads[-1] == "N+B"
    frame = pd.read_csv(results / "results.csv").dropna(subset=["device"])
    mine = frame[frame.method == "a"]
    cell = _by_row(table)["l1 (%)", "a"][TOTAL]
    # by hand: the mean of all 16 pairs of a, and the interval of resampling its 4 photos
    assert cell.value == pytest.approx(mine["l1"].mean())
    _, low, high = cluster_bootstrap(mine["l1"].to_numpy(), mine["image"].to_numpy())
    assert (cell.low, cell.high) == pytest.approx((low, high))
    assert TOTAL not in table1(summarise(results)).columns  # only when asked
    assert "4 images" in table.caption  # each pair counted once in the protocol


def test_masks_outside_every_bin_are_counted_by_run_and_named_in_the_caption(tmp_path):
    from click.testing import CliRunner
    from helpers import box_masks, gradient_photos, run_arguments

    from pconvkit.cli import benchmark

    gradient_photos(tmp_path / "images")
    # hole ratios 0.05 and 0.1 (in bins), 0.004 and 0.75 (outside every bin)
    box_masks(tmp_path / "masks", [(10, 30, 10, 20), (8, 24, 10, 36), (30, 31, 30, 46), (0, 64, 0, 48)])
    result = CliRunner().invoke(benchmark, run_arguments(tmp_path, "mean", "out"))
    assert result.exit_code == 0, result.output
    assert "2 of 4 masks lie outside every hole-ratio bin" in result.output
    assert "2 masks of the set lie outside every bin" in table1(summarise(tmp_path / "out")).caption


def test_mean_std_cells_print_the_standard_deviation_over_pairs(results):
    summary = summarise(results)
    table = table1(summary, stat="mean-std")
    frame = pd.read_csv(results / "results.csv").dropna(subset=["device"])
    values = frame[(frame.method == "a") & (frame.category == "N")]["l1"]
    cell = _by_row(table)["l1 (%)", "a"]["0.01-0.1 N"]
    assert cell.low is None and cell.std == pytest.approx(values.std(ddof=1))  # pandas' sample std
    assert f"{values.mean():.2f} ± {values.std(ddof=1):.2f}" in to_markdown(table)
    assert r"$\pm$" in to_latex(table) and "standard deviation" in table.caption
    long = pd.read_csv(io.StringIO(to_csv(table)))
    assert "std" in long.columns and "std" not in pd.read_csv(io.StringIO(to_csv(table1(summary)))).columns
    assert _bold(_by_row(table)["l1 (%)", "a"]) == _bold(_by_row(table1(summary))["l1 (%)", "a"])  # the same marks


# ------------------------------------------------------------------ other binnings (--bins, --categories)


def lama_bin(area: float, bins: int = 10) -> int:
    """LaMa's evaluator's bin of a hole share (saicinpainting/evaluation/evaluator.py, _get_bin_edges)."""
    index = np.searchsorted(np.linspace(0, 1, bins + 1), [area], side="right") - 1
    index[index == bins] = bins - 1
    return int(index[0])


def test_lama_bins_put_every_hole_ratio_where_lamas_evaluator_does(tmp_path):
    from pconvkit.benchmark.tables import binning

    ratios = [0.0, 1e-9, 0.1, 0.1 - 1e-12, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0, 3 / 10, 0.6 + 1e-12]
    rows = [("a", f"{i}", f"photo{i % 3}", "N", "0.01-0.1", 1.0 + i, ratio) for i, ratio in enumerate(ratios)]
    write_results(tmp_path / "results.csv", rows)
    bins = binning("lama")
    summary = summarise(tmp_path, bins=bins, total=True)
    labels = bins.labels()
    assert labels[:2] == ["0-10%", "10-20%"] and labels[-1] == "90-100%" and len(labels) == 10
    assert bins.columns() == [f"{label} N+B" for label in labels]
    counts = summary.cells[summary.cells["metric"] == "l1"].set_index("column")["pairs"]
    expected = pd.Series([labels[lama_bin(r)] + " N+B" for r in ratios]).value_counts()
    assert counts.drop("all").sort_index().to_dict() == expected.sort_index().to_dict()
    assert counts["all"] == len(ratios) and summary.left_out == 0


def test_edges_of_ones_own_and_categories_apart(tmp_path, results):
    from pconvkit.benchmark.tables import binning

    ratios = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55]
    rows = [("a", f"{i}", f"photo{i % 3}", "NB"[i % 2], "0.01-0.1", float(i), r) for i, r in enumerate(ratios)]
    write_results(tmp_path / "results.csv", rows)
    bins = binning("0.1,0.3,0.5", "apart")
    assert bins.columns() == ["0.1-0.3 N", "0.1-0.3 B", "0.3-0.5 N", "0.3-0.5 B"]
    summary = summarise(tmp_path, bins=bins)
    assert summary.left_out == 2  # 0.05 and 0.55
    table = table1(summary)
    assert "Bonferroni over the 4 columns" in table.caption and "2 scored masks lie outside" in table.caption
    l1 = _by_row(table)["l1 (%)", "a"]
    assert l1["0.1-0.3 B"].value == 1.0 and l1["0.1-0.3 N"].value == 2.0 and l1["0.3-0.5 B"].value == 3.0
    assert not any(method.endswith("(not run)") for _, method in _by_row(table))  # the paper's methods, its bins
    with pytest.raises(UserError, match="--with-paper"):
        table1(summary, with_paper=True)
    for text in ("0.3,0.1", "0.5", "a,b", "-0.1,0.2", "0.5,1.5", "nan,0.5", "0,0.5,nan", "0.2,0.2"):
        with pytest.raises(UserError, match="--bins"):
            binning(text)


def test_ssim_border_include_puts_the_zero_padded_ssim_in_the_ssim_row(results):
    crop = summarise(results).cells.set_index(["method", "metric", "column"])["value"]
    include = summarise(results, ssim_border="include").cells.set_index(["method", "metric", "column"])["value"]
    key = ("a", "ssim", "0.01-0.1 N")
    frame = pd.read_csv(results / "results.csv").dropna(subset=["device"])
    part = frame[(frame.method == "a") & (frame.category == "N")]
    assert crop[key] == pytest.approx(part["ssim"].mean()) and include[key] == pytest.approx(part["ssim_full"].mean())
    assert "ssim_full" not in set(include.index.get_level_values("metric"))  # never a row of its own
    assert "zero-padded" in table1(summarise(results, ssim_border="include")).caption


def test_table_options_that_cannot_apply_are_one_line(results):
    from click.testing import CliRunner
    from helpers import one_error_line

    from pconvkit.cli import benchmark

    runner = CliRunner()
    assert "--bins" in one_error_line(runner.invoke(benchmark, ["table", str(results), "--bins", "0.5,0.2"]))
    line = one_error_line(runner.invoke(benchmark, ["table", str(results), "--bins", "lama", "--with-paper"]))
    assert "--with-paper" in line
    older = results / "older"  # results format 3: no hole ratios, no SSIM over the border
    older.mkdir()
    frame = pd.read_csv(results / "results.csv").dropna(subset=["device"])
    frame.drop(columns=["hole_ratio", "ssim_full", "psnr_hole", "lpips_box"]).to_csv(
        older / "results.csv", index=False, na_rep="nan"
    )
    assert runner.invoke(benchmark, ["table", str(older)]).exit_code == 0
    assert "no hole ratios" in one_error_line(runner.invoke(benchmark, ["table", str(older), "--bins", "lama"]))
    line = one_error_line(runner.invoke(benchmark, ["table", str(older), "--ssim-border", "include"]))
    assert "no SSIM over the border" in line


@pytest.fixture
def scored_sets(tmp_path):
    """Two methods on 12, 10 and 9 masks of three cells (0.01-0.1 N, 0.1-0.2 N, 0.2-0.3 B), each
    output and truth with saved stand-in vectors: class probabilities (IS), logits (the published
    IS) and features (FID, KID)."""
    from pconvkit.benchmark.results import FEATURE_VECTORS, INCEPTION_VECTORS, TF_LOGITS, TRUTH, vector_folder

    rng = np.random.default_rng(5)
    rows, cells = [], [("N", "0.01-0.1", 12), ("N", "0.1-0.2", 10), ("B", "0.2-0.3", 9)]
    for category, bin_, count in cells:
        for k in range(count):
            mask = f"{bin_}-{k}"
            for method, sharpness in ((TRUTH, 4.0), ("a", 3.0), ("b", 1.0)):
                if method != TRUTH:
                    rows.append((method, mask, f"photo{k % 4}", category, bin_, float(rng.random())))
                logits = rng.normal(0, sharpness, 6)
                vectors = {INCEPTION_VECTORS: np.exp(logits) / np.exp(logits).sum(), TF_LOGITS: logits}
                vectors[FEATURE_VECTORS] = rng.normal(sharpness, 1.0, 3)
                for kind, vector in vectors.items():
                    vector_folder(tmp_path, kind, method).mkdir(parents=True, exist_ok=True)
                    np.save(vector_folder(tmp_path, kind, method) / f"{mask}.npy", vector.astype(np.float32))
    write_results(tmp_path / "results.csv", rows)
    return tmp_path


def _stacked(folder, kind, method, masks):
    from pconvkit.benchmark.results import vector_folder

    return np.stack([np.load(vector_folder(folder, kind, method) / f"{m}.npy") for m in masks])


def test_the_set_metrics_of_each_cell_come_from_its_own_saved_vectors(scored_sets, monkeypatch):
    """IS and its drop per cell from the saved probabilities (cells of at least 10 masks), the
    published IS from the logits, FID and KID per bin and over every bin from the features: each the
    metric's own function on exactly that cell's vectors; the best mark by the metric's direction."""
    import pconvkit.benchmark.tables as tables
    from pconvkit.benchmark.metrics import inception_score
    from pconvkit.benchmark.perceptual import fid, inception_score_tf, kid
    from pconvkit.benchmark.results import FEATURE_VECTORS, INCEPTION_VECTORS, TF_LOGITS, TRUTH

    monkeypatch.setattr(tables, "FID_MIN_IMAGES", 10)  # so that 10 images are enough, and 9 are not
    summary = summarise(scored_sets)
    cells = summary.cells.set_index(["method", "metric", "column"])["value"]
    masks = {
        label: [f"{label}-{k}" for k in range(n)] for label, n in (("0.01-0.1", 12), ("0.1-0.2", 10), ("0.2-0.3", 9))
    }
    for method in ("a", "b"):
        for bin_, category in (("0.01-0.1", "N"), ("0.1-0.2", "N")):
            column = f"{bin_} {category}"
            score = inception_score(_stacked(scored_sets, INCEPTION_VECTORS, method, masks[bin_]))[0]
            truth = inception_score(_stacked(scored_sets, INCEPTION_VECTORS, TRUTH, masks[bin_]))[0]
            assert cells[method, "is", column] == pytest.approx(score, rel=1e-9)
            assert cells[method, "is_drop", column] == pytest.approx(truth - score, rel=1e-9)
            logits = _stacked(scored_sets, TF_LOGITS, method, masks[bin_])
            assert cells[method, "is_tf", column] == pytest.approx(inception_score_tf(logits), rel=1e-9)
        assert (method, "is", "0.2-0.3 B") not in cells.index  # 9 masks: too few for 10 splits
        assert (method, "is_tf", "0.2-0.3 B") not in cells.index
    for metric in ("is", "is_drop"):
        for column in ("0.01-0.1 N", "0.1-0.2 N"):
            values = {m: cells[m, metric, column] for m in ("a", "b")}
            best = (min if metric == "is_drop" else max)(values, key=values.get)
            assert summary.best[metric, column] == {best}
    distribution = summary.distribution.set_index(["method", "bin"])
    for method in ("a", "b"):
        every = [m for bin_ in masks for m in masks[bin_]]
        for bin_, chosen in [*masks.items(), (tables.TOTAL, every)]:
            outputs, truths = (_stacked(scored_sets, FEATURE_VECTORS, who, chosen) for who in (method, TRUTH))
            row = distribution.loc[method, bin_]
            assert row["images"] == len(chosen) and bool(row["biased"]) == (len(chosen) < 10)
            assert row["fid"] == pytest.approx(fid(outputs, truths)) and row["kid"] == pytest.approx(
                kid(outputs, truths)
            )


def test_column_headings_show_each_bins_closed_ends():
    from pconvkit.benchmark.tables import PAPER_BINS, binning

    assert PAPER_BINS.headings() == ["(0.01,0.1]", "(0.1,0.2]", "(0.2,0.3]", "(0.3,0.4]", "(0.4,0.5]", "(0.5,0.6]"]
    assert binning("0,0.2,0.5,1").headings() == ["[0,0.2)", "[0.2,0.5)", "[0.5,1]"]  # LaMa's rule: the last closed
    assert binning("0.25,0.75").headings() == ["[0.25,0.75]"]
    assert binning("lama").labels()[:2] == ["0-10%", "10-20%"] and binning("0,0.5,1").labels() == ["0-0.5", "0.5-1"]


def test_the_fid_table_has_a_row_per_metric_and_method_and_the_images_of_each_bin(scored_sets):
    from pconvkit.benchmark.tables import TOTAL, distribution_table

    summary = summarise(scored_sets)
    table = distribution_table(summary)
    assert table.columns == [f"{b} N+B" for b in (*summary.bins.labels(), TOTAL)]
    assert [row[:2] for row in table.rows] == [["FID", "a"], ["FID", "b"], ["KID", "a"], ["KID", "b"]]
    by_cell = summary.distribution.set_index(["method", "bin"])
    images = {"0.01-0.1": 12, "0.1-0.2": 10, "0.2-0.3": 9, TOTAL: 31}
    for (_, method, *cells), metric in zip(table.rows, ("fid", "fid", "kid", "kid")):
        for bin_, cell in zip((*summary.bins.labels(), TOTAL), cells):
            if bin_ not in images:
                assert cell is None  # a bin without masks
                continue
            assert cell.value == by_cell.loc[(method, bin_), metric] and cell.count == images[bin_]


def test_the_timing_table_has_each_methods_mean_seconds_and_device(results):
    from pconvkit.benchmark.tables import timing_table

    table = timing_table(results)
    assert [row[:2] for row in table.rows] == [["a", "cpu"], ["b", "cpu"]]
    assert [(row[2].value, row[2].count) for row in table.rows] == [(pytest.approx(0.1), 16)] * 2


def test_the_total_column_gets_its_own_heading_over_both_categories(results):
    table = table1(summarise(results, total=True))
    assert table.groups[-1] == ("all bins", 1) and table.groups[0] == ("(0.01,0.1]", 2)
    assert table.subheads[-1] == "N+B" and len(table.subheads) == len(table.columns) == 13


def test_marks_captions_and_counts_follow_each_column_and_option(tmp_path):
    """'a' wins one column and 'b' the other, each clearly, and b's value in the second is better than
    a's in the first: each column's own ranking marks its winner. Five scored masks lie outside the
    paper's bins: counted in the caption, which names the statistic of the cells; no run.json: no
    sentence about masks outside the set's bins."""
    from pconvkit.benchmark.tables import PAPER_BINS, binning

    rng = np.random.default_rng(2)
    rows = []
    for k in range(6):
        noise = float(rng.normal(0, 0.05))
        rows += [
            ("a", f"n{k}", f"p{k % 3}", "N", "0.01-0.1", 2 + noise),
            ("b", f"n{k}", f"p{k % 3}", "N", "0.01-0.1", 3),
        ]
        rows += [("a", f"b{k}", f"p{k % 3}", "B", "0.1-0.2", 4 + noise), ("b", f"b{k}", f"p{k % 3}", "B", "0.1-0.2", 1)]
    rows += [(m, f"o{k}", "p0", "B", "0.6-1", 1.0) for k in range(5) for m in "ab"]  # outside the paper's bins
    write_results(tmp_path / "results.csv", rows)
    summary = summarise(tmp_path)
    assert summary.best["l1", "0.01-0.1 N"] == {"a"} and summary.best["l1", "0.1-0.2 B"] == {"b"}
    assert summary.left_out == 5 and summary.outside_masks == 0
    caption = table1(summary).caption
    assert caption.startswith("Cells: mean [95 % interval") and "5 scored masks lie outside" in caption
    assert "outside every bin (0.01, 0.6]" not in caption
    assert table1(summary, stat="mean-std").caption.startswith("Cells: mean ± standard deviation")
    ssim = summary.cells.set_index(["method", "metric", "column"])["value"]["a", "ssim", "0.01-0.1 N"]
    frame = pd.read_csv(tmp_path / "results.csv")
    a = frame[(frame.method == "a") & (frame.category == "N")]
    assert ssim == pytest.approx(a["ssim"].mean()) != pytest.approx(a["ssim_full"].mean())  # crop: the paper's
    include = "".join(["inc", "lude"])  # as a command line gives it
    full = summarise(tmp_path, ssim_border=include).cells.set_index(["method", "metric", "column"])["value"]
    assert full["a", "ssim", "0.01-0.1 N"] == pytest.approx(a["ssim_full"].mean())
    assert not binning("paper", "together").by_border and binning("paper", "apart") == PAPER_BINS
    apart = table1(summarise(tmp_path, bins=binning("paper", "apart")), with_paper=True)
    assert any(method.endswith("(not run)") for _, method in _by_row(apart))


def test_a_metric_missing_from_an_older_results_file_leaves_the_others_in_the_table(tmp_path):
    rows = [("a", f"{k}", f"p{k % 2}", "N", "0.01-0.1", 1.0 + k) for k in range(4)]
    write_results(tmp_path / "results.csv", rows)
    frame = pd.read_csv(tmp_path / "results.csv")
    frame["l1_hole"] = float("nan")  # not computed by that version
    frame.to_csv(tmp_path / "results.csv", index=False, na_rep="nan")
    metrics = set(summarise(tmp_path).cells["metric"])
    assert "l1_hole" not in metrics and {"l1", "psnr", "ssim", "psnr_hole"} <= metrics


def _save_vector(folder, kind, method, mask, vector):
    from pconvkit.benchmark.results import vector_folder

    vector_folder(folder, kind, method).mkdir(parents=True, exist_ok=True)
    np.save(vector_folder(folder, kind, method) / f"{mask}.npy", np.asarray(vector, np.float32))


@pytest.fixture
def uneven_sets(tmp_path):
    """Two methods whose saved vectors make IS values below their IS drops: 'a' outputs uniform class
    probabilities (IS 1), 'b' half-peaked ones, the truth peaked ones. 'b' is better than 'a' in l1 by
    2 everywhere. Cells: 9 masks in 0.01-0.1 N (too few for IS), 60 in 0.1-0.2 N, one in 0.2-0.3 N and
    two in 0.3-0.4 N (FID from 2 images up)."""
    from pconvkit.benchmark.results import FEATURE_VECTORS, INCEPTION_VECTORS, TRUTH

    rng = np.random.default_rng(11)
    uniform = np.full(6, 1 / 6)
    rows = []
    for bin_, count in (("0.01-0.1", 9), ("0.1-0.2", 60), ("0.2-0.3", 1), ("0.3-0.4", 2)):
        for k in range(count):
            mask, peaked = f"{bin_}-{k:02d}", np.eye(6)[k % 6] * 0.94 + 0.01
            level = float(rng.uniform(3, 4))
            rows += [("a", mask, f"photo{k % 5}", "N", bin_, level + 2), ("b", mask, f"photo{k % 5}", "N", bin_, level)]
            for method, probabilities in ((TRUTH, peaked), ("a", uniform), ("b", (peaked + uniform) / 2)):
                _save_vector(tmp_path, INCEPTION_VECTORS, method, mask, probabilities)
                _save_vector(tmp_path, FEATURE_VECTORS, method, mask, rng.normal(0, 1, 3))
    write_results(tmp_path / "results.csv", rows)
    return tmp_path


def test_set_metrics_are_ranked_apart_from_every_other_metric_and_cell(uneven_sets):
    """The IS drop is the truth's IS minus the outputs' (here more than the outputs' IS itself); each
    metric's best mark is ranked among that metric's values only; a cell too small for IS leaves the
    cells after it alone; a bin of one image has no FID and one of two has; the total column changes
    no bin's FID; the FID table prints 4 significant digits and the IS row follows the empty LPIPS."""
    from pconvkit.benchmark.metrics import inception_score
    from pconvkit.benchmark.results import FEATURE_VECTORS, INCEPTION_VECTORS, TRUTH
    from pconvkit.benchmark.tables import distribution_table

    summary = summarise(uneven_sets)
    cells = summary.cells.set_index(["method", "metric", "column"])["value"]
    masks = [f"0.1-0.2-{k:02d}" for k in range(60)]
    truth = inception_score(_stacked(uneven_sets, INCEPTION_VECTORS, TRUTH, masks))[0]
    for method in ("a", "b"):
        score = inception_score(_stacked(uneven_sets, INCEPTION_VECTORS, method, masks))[0]
        assert cells[method, "is", "0.1-0.2 N"] == pytest.approx(score)
        assert cells[method, "is_drop", "0.1-0.2 N"] == pytest.approx(truth - score)
        assert (method, "is", "0.01-0.1 N") not in cells.index
    assert cells["a", "is", "0.1-0.2 N"] == pytest.approx(1.0) and truth > 2 * cells["b", "is", "0.1-0.2 N"] > 2
    assert cells["b", "is_drop", "0.1-0.2 N"] > cells["a", "is", "0.1-0.2 N"]  # a drop above an IS
    assert summary.best["is_drop", "0.1-0.2 N"] == {"b"} and summary.best["is", "0.1-0.2 N"] == {"b"}
    assert summary.best["l1", "0.1-0.2 N"] == {"b"}  # though a's IS (1) is below b's l1 (3 to 4)
    distribution = summary.distribution.set_index(["method", "bin"])
    assert ("a", "0.2-0.3") not in distribution.index and distribution.loc[("a", "0.3-0.4"), "images"] == 2
    pd.testing.assert_frame_equal(summarise(uneven_sets, total=True).distribution, summary.distribution)
    outputs, real = (_stacked(uneven_sets, FEATURE_VECTORS, who, masks) for who in ("a", TRUTH))
    from pconvkit.benchmark.perceptual import fid

    table = distribution_table(summary)
    markdown = to_markdown(table)
    assert f"| {fid(outputs, real):.4g} (n=60) |" in markdown
    for cell in [c for row in table.rows for c in row[2:] if c is not None]:  # 4 significant digits each
        assert f"| {cell.value:.4g} (n={cell.count}) |" in markdown
    assert {method for metric, method in _by_row(table1(summary)) if metric == "IS"} == {"a", "b"}


def test_option_words_from_a_command_line_are_read_by_their_value(results):
    """A command line's words are new strings, not the program's own constants."""
    from pconvkit.benchmark.tables import PAPER_BINS, binning

    def word(text):
        return "".join(list(text))  # equal, but another object

    assert binning(word("paper")) == PAPER_BINS and binning(word("lama")).name == "lama"
    assert binning(word("lama"), word("apart")).by_border and not binning(word("paper"), word("together")).by_border
    summary = summarise(results, ssim_border=word("include"))
    assert "SSIM over every pixel" in table1(summary).caption
    cell = _by_row(table1(summary, stat=word("mean-ci")))["l1 (%)", "a"]["0.01-0.1 N"]
    assert table1(summary, stat=word("mean-ci")).caption.startswith("Cells: mean [95 % interval")
    assert cell.low < cell.value < cell.high and cell.std is None
    cell = _by_row(table1(summary, stat=word("mean-std")))["l1 (%)", "a"]["0.01-0.1 N"]
    assert cell.low is None and cell.std > 0
    assert "SSIM over every pixel" not in table1(summarise(results)).caption  # the paper's crop


def test_bins_of_ones_own_are_read_whole():
    """Unknown words are refused whatever their place in the alphabet; edges of one's own put N and B
    together unless asked; the last bin (and only it) is closed for any count of bins; a ratio on the
    last edge is in the last bin and one above it in none."""
    from pconvkit.benchmark.tables import PAPER_BINS, binning
    from pconvkit.maskgen.bins import BIN_LABELS

    for word in ("zebra", "apple", "papers"):
        with pytest.raises(UserError, match="--bins"):
            binning(word)
    assert binning("0,0.5,1").columns() == ["0-0.5 N+B", "0.5-1 N+B"]
    assert PAPER_BINS.labels() == list(BIN_LABELS)
    assert binning("0,0.5,1").headings() == ["[0,0.5)", "[0.5,1]"]
    assert binning("0,0.1,0.2,0.3,0.4").headings()[-2:] == ["[0.2,0.3)", "[0.3,0.4]"]
    frame = pd.DataFrame(dict(hole_ratio=[0.05, 0.3, 0.35, 0.1, 0.0], category="N"))
    assigned = binning("0,0.1,0.2,0.3").assign(frame)
    assert assigned["hole_ratio"].tolist() == [0.05, 0.3, 0.1, 0.0]
    assert assigned["bin"].tolist() == ["0-0.1", "0.2-0.3", "0.1-0.2", "0-0.1"]


def test_ties_significance_and_paired_differences_by_hand(tmp_path):
    """'a' and 'c' are the same method (a tie, both bold); 'b' is better than both by a small margin
    in every metric (l1 by 0.5, SSIM by 0.05: sole best); differences against 'c' are one row per
    other method, each the mean of its own pairs' differences."""
    from pconvkit.benchmark.tables import tables

    rng = np.random.default_rng(4)
    rows = []
    for k in range(12):
        level = float(rng.uniform(2, 3))
        for method, l1 in (("a", level), ("b", level - 0.5), ("c", level)):
            rows.append((method, f"m{k}", f"photo{k % 4}", "N", "0.01-0.1", l1))
        rows += [
            ("a", f"t{k}", f"photo{k % 4}", "B", "0.1-0.2", 1.0 + k),
            ("c", f"t{k}", f"photo{k % 4}", "B", "0.1-0.2", 1.0 + k),
        ]
    write_results(tmp_path / "results.csv", rows)
    summary = summarise(tmp_path, against="c")
    for metric in ("l1", "ssim", "psnr"):
        assert summary.best[metric, "0.01-0.1 N"] == {"b"}
        assert summary.best[metric, "0.1-0.2 B"] == {"a", "c"}  # equal values: an interval of [0, 0]
    assert set(summary.against["method"]) == {"a", "b"}
    differences = summary.against.set_index(["method", "metric", "column"])["value"]
    assert differences["b", "l1", "0.01-0.1 N"] == pytest.approx(-0.5)
    assert differences["a", "l1", "0.1-0.2 B"] == pytest.approx(0.0)
    assert not any(method.endswith("(paper)") for table in tables(summary) for _, method, *_ in table.rows)


def test_a_cell_of_two_pairs_has_a_standard_deviation(tmp_path):
    rows = [("a", "m0", "p0", "N", "0.01-0.1", 1.0), ("a", "m1", "p1", "N", "0.01-0.1", 2.0)]
    rows += [("a", "m2", "p0", "B", "0.01-0.1", 1.0)]
    write_results(tmp_path / "results.csv", rows)
    std = summarise(tmp_path).cells.set_index(["metric", "column"])["std"]
    assert std["l1", "0.01-0.1 N"] == pytest.approx(1 / np.sqrt(2)) and np.isnan(std["l1", "0.01-0.1 B"])


def test_a_merged_folder_that_keeps_its_shards_gives_its_table_and_an_empty_one_says_so(results, tmp_path):
    from pconvkit.benchmark.results import shard_file_name

    (results / shard_file_name(1, 2)).write_text((results / "results.csv").read_text())
    assert len(summarise(results).cells)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "results.csv").write_text(",".join(RESULT_FIELDS) + "\n")
    with pytest.raises(UserError, match="no results in"):
        summarise(empty)


def test_scored_masks_outside_the_bins_are_counted_when_they_outnumber_those_inside(tmp_path):
    rows = [("a", "in", "p0", "N", "0.01-0.1", 1.0)] + [("a", f"out{k}", "p0", "N", "0.6-1", 1.0) for k in range(3)]
    write_results(tmp_path / "results.csv", rows)
    assert summarise(tmp_path).left_out == 3


def test_the_timing_table_prints_seconds_with_four_decimals(results):
    from pconvkit.benchmark.tables import timing_table

    assert "| a | cpu | 0.1000 (n=16) |" in to_markdown(timing_table(results))


def test_table_1_has_a_row_per_metric_computed_and_ssim_over_the_border_only_inside_the_ssim_row(results):
    rows = [metric for metric, method in _by_row(table1(summarise(results))) if method == "a"]
    assert rows == ["l1 (%)", "PSNR", "SSIM", "l1 holes (%)", "PSNR holes"]  # no LPIPS in this run

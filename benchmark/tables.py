"""Table 1 of the paper from a results file: rows metric x method, columns 6 bins x N/B.

The paper's 'IScore' row is lower-is-better and grows with the hole size, so it cannot be the raw
Inception score (which is higher-is-better); we believe it is the drop of the score from the ground
truth images to the outputs. We report the raw score of the outputs ('IS'), and that drop
('IS drop' = IS(ground truth) - IS(outputs)), when Inception-v3 weights were given.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pconvkit.benchmark.confidence import cluster_bootstrap, corrected_level
from pconvkit.benchmark.methods import NOT_RUN
from pconvkit.benchmark.metrics import (
    IS,
    IS_DROP,
    IS_TF,
    METRICS,
    PER_BIN,
    PER_IMAGE,
    PER_SET,
    SSIM,
    SSIM_BORDERS,
    SSIM_FULL,
    inception_score,
)
from pconvkit.benchmark.perceptual import FID_MIN_IMAGES, fid, inception_score_tf, kid
from pconvkit.benchmark.render import Number, Table
from pconvkit.benchmark.results import (
    FEATURE_VECTORS,
    INCEPTION_VECTORS,
    TF_LOGITS,
    has_vectors,
    pairing_hash,
    read_results,
    read_run_settings,
    results_path,
    run_folder,
    saved_vectors,
    shard_files,
)
from pconvkit.errors import UserError
from pconvkit.files import content_hash, read_csv_rows
from pconvkit.maskgen.bins import BIN_EDGES, BIN_LABELS, CATEGORIES


def _paper_table1() -> dict:
    """Table 1 of the paper, transcribed in paper_table1.csv: {metric: {method: 12 values, in
    column_labels() order}}."""
    table = {}
    for row in read_csv_rows(Path(__file__).with_name("paper_table1.csv")):
        metric, method = row.pop("metric"), row.pop("method")
        table.setdefault(metric, {})[method] = [float(v) for v in row.values()]
    return table


PAPER_TABLE1 = _paper_table1()


TOTAL = "all"  # the column of every pair, all bins and both categories (`--total`)
BOTH = "N+B"  # the category of a column that holds both border categories


@dataclass(frozen=True)
class Binning:
    """How a table groups pairs into columns: bins of the hole ratio, N and B apart or together.

    `closed` 'right' gives (a, b], the paper's bins, read from each row's `bin` (the manifest's,
    which `data.load_masks` checks against the mask); 'left' gives [a, b) with the last bin [a, b],
    LaMa's evaluator's rule (saicinpainting/evaluation/evaluator.py: np.searchsorted(edges, area,
    side='right') - 1, an area of 1 in the last bin), read from each row's `hole_ratio`.
    """

    name: str
    edges: tuple[float, ...]
    closed: str = "left"
    by_border: bool = True

    def labels(self) -> list[str]:
        # "low-high", as maskgen.bins.bin_label writes them: the paper's bins come out as BIN_LABELS
        if self.name == "lama":  # LaMa's own names: 0-10%, 10-20%, ...
            return [f"{low * 100:.0f}-{high * 100:.0f}%" for low, high in zip(self.edges, self.edges[1:])]
        return [f"{low:g}-{high:g}" for low, high in zip(self.edges, self.edges[1:])]

    def headings(self) -> list[str]:
        pairs = list(zip(self.edges, self.edges[1:]))
        if self.closed == "right":
            return [f"({low:g},{high:g}]" for low, high in pairs]
        return [f"[{low:g},{high:g}{']' if i == len(pairs) - 1 else ')'}" for i, (low, high) in enumerate(pairs)]

    def categories(self) -> tuple[str, ...]:
        return CATEGORIES if self.by_border else (BOTH,)

    def columns(self, total: bool = False) -> list[str]:
        cells = [f"{b} {c}" for b in self.labels() for c in self.categories()]
        return cells + ([TOTAL] if total else [])

    def assign(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of `frame` inside these bins, with `bin` and `category` as these columns read them."""
        if self.closed == "right":
            frame = frame[frame["bin"].isin(BIN_LABELS)].copy()
        else:
            ratios = frame["hole_ratio"].astype(float).to_numpy()
            if np.isnan(ratios).any():
                raise UserError(
                    f"--bins {self.name}: this results file has no hole ratios (results format 3 or earlier): "
                    "run the methods again into a new --out"
                )
            edges = np.asarray(self.edges)
            index = np.searchsorted(edges, ratios, side="right") - 1
            index[ratios == edges[-1]] = len(edges) - 2  # the last bin is closed
            inside = (index >= 0) & (index < len(edges) - 1)
            frame = frame[inside].copy()
            frame["bin"] = np.asarray(self.labels(), dtype=object)[index[inside]]
        if not self.by_border:
            frame["category"] = BOTH
        return frame


PAPER_BINS = Binning("paper", BIN_EDGES, closed="right")
LAMA_EDGES = tuple(np.linspace(0, 1, 11))  # LaMa's edges, unrounded (its 0.3 is 0.30000000000000004)


def binning(bins: str = "paper", categories: str | None = None) -> Binning:
    """The Binning of `--bins` (paper, lama, or increasing comma-separated edges in [0, 1]) and
    `--categories` (apart, together; default apart for the paper's bins, together otherwise)."""
    if categories not in (None, "apart", "together"):
        raise UserError(f"--categories {categories!r}: apart or together")
    if bins == "paper":
        chosen = PAPER_BINS
    elif bins == "lama":
        chosen = Binning("lama", LAMA_EDGES, by_border=False)
    else:
        try:
            edges = tuple(float(edge) for edge in bins.split(","))
        except ValueError:
            raise UserError(f"--bins {bins!r}: paper, lama, or comma-separated hole ratios such as 0,0.2,0.4") from None
        # written so that a NaN edge fails it: every comparison with NaN is false
        if len(edges) < 2 or not all(a < b for a, b in zip(edges, edges[1:])) or not 0 <= edges[0] <= edges[-1] <= 1:
            raise UserError(f"--bins {bins!r}: at least two increasing hole ratios in [0, 1]")
        chosen = Binning(bins, edges, by_border=False)
    if categories is not None:
        chosen = Binning(chosen.name, chosen.edges, chosen.closed, categories == "apart")
    return chosen


def column_labels(total: bool = False, bins: Binning = PAPER_BINS):
    return bins.columns(total)


def _results_frame(results_dir: Path) -> pd.DataFrame:
    """The rows of a results folder or file, metrics as floats; a one-line error where there are none."""
    rows = read_results(results_path(results_dir))
    if not rows and shard_files(results_dir):
        raise UserError(f"{results_dir} holds the shard files of a run: join them with `benchmark merge` first")
    if not rows:
        raise UserError(f"no results in {results_dir}")
    frame = pd.DataFrame(rows)
    for metric in [m.name for m in PER_IMAGE] + ["seconds"]:
        frame[metric] = frame[metric].astype(float)
    return frame


@dataclass
class Summary:
    """What Table 1 shows of a results folder.

    cells: method, metric, column, value, low, high (the 95 % interval), pairs, photos.
    best: {(metric, column): the methods marked best (one, or several tied)}.
    against: the paired differences method - reference (same columns as cells), or None.
    protocol: a line naming the pairing, so that another lab can rebuild the pairs.
    total: whether the cells include the TOTAL column.
    """

    cells: pd.DataFrame
    best: dict
    against: pd.DataFrame | None
    reference: str | None
    protocol: str
    distribution: pd.DataFrame | None  # method, bin, images, fid, kid (FID and KID per bin)
    total: bool
    outside_masks: int  # masks of the run's set outside every bin (run.json)
    bins: Binning
    left_out: int  # scored masks outside the table's bins
    ssim_border: str


def summarise(
    results_dir, against: str | None = None, total: bool = False, bins: Binning = PAPER_BINS, ssim_border="crop"
) -> Summary:
    """Means with cluster-bootstrap intervals per (method, metric, column), the best-in-column marks,
    and, with `against`, every method's paired difference to that method (see `confidence`); with
    `total`, the TOTAL column too (every pair in the bins, the same bootstrap over photos). `bins`
    makes the columns; `ssim_border` 'include' puts SSIM over every pixel in the SSIM row."""
    results_dir = Path(results_dir)
    every = _results_frame(results_dir)
    if ssim_border not in SSIM_BORDERS:
        raise UserError(f"--ssim-border {ssim_border!r}: {' or '.join(SSIM_BORDERS)}")
    if ssim_border == "include":
        if every[SSIM_FULL.name].isna().all():
            raise UserError(
                f"--ssim-border include: {results_dir} has no SSIM over the border (results format 3 or "
                "earlier): run the methods again into a new --out"
            )
        every[SSIM.name] = every[SSIM_FULL.name]
    frame = bins.assign(every)
    if frame.empty:
        raise UserError(f"no pair of {results_dir} lies inside the bins of --bins {bins.name}")
    frame["column"] = frame["bin"] + " " + frame["category"]
    if total:
        frame = pd.concat([frame, frame.assign(column=TOTAL)], ignore_index=True)
    names = [m.name for m in PER_IMAGE if m.row]
    rows = []
    for (method, column), group in frame.groupby(["method", "column"]):
        for metric in names:
            if group[metric].isna().all():  # not computed in this run (LPIPS without its weights)
                continue
            rows.append(_estimate(method, metric, column, group[metric], group["image"]))
    folder = run_folder(results_dir)
    inception = pd.concat([_inception_rows(folder, frame), _tf_inception_rows(folder, frame)], ignore_index=True)
    cells_ = pd.concat([pd.DataFrame(rows), inception], ignore_index=True) if len(inception) else pd.DataFrame(rows)
    if against is not None and against not in set(frame["method"]):
        raise UserError(
            f"--against {against}: no such method in {results_dir} ({', '.join(sorted(set(frame['method'])))})"
        )
    single = frame[frame["column"] != TOTAL]  # each pair once, for the protocol and the per-bin sets
    columns = bins.columns(total)
    return Summary(
        cells_,
        _best_marks(frame, cells_, columns, len(bins.columns())),
        _paired_differences(frame, against, columns) if against else None,
        against,
        _protocol(folder, single),
        _distribution(folder, single),
        total,
        int(read_run_settings(folder).get("outside_masks", 0)),
        bins,
        every["mask"].nunique() - single["mask"].nunique(),
        ssim_border,
    )


def _paired(frame, method: str, other: str, column: str, metric: str):
    """(differences method - other, photos) over the pairs of `column` both methods ran."""
    part = frame[frame["column"] == column]
    a = part[part["method"] == method].set_index("mask")
    b = part[part["method"] == other].set_index("mask")
    shared = a.index.intersection(b.index)
    return (a.loc[shared, metric] - b.loc[shared, metric]).to_numpy(), a.loc[shared, "image"].to_numpy()


def _best_marks(frame, cells_, columns, comparisons: int) -> dict:
    """{(metric, column): marked methods}: the best alone where it beats the runner-up significantly
    (paired, Bonferroni over the `comparisons` bin columns), else the best and all methods tied with it."""
    marks, level = {}, corrected_level(comparisons=comparisons)
    for metric in PER_IMAGE:
        for column in columns:
            part = cells_[(cells_["metric"] == metric.name) & (cells_["column"] == column)].dropna(subset=["value"])
            if part.empty:
                continue
            ranked = part.sort_values("value", ascending=metric.better == "min")["method"].tolist()
            best, tied = ranked[0], {ranked[0]}
            for other in ranked[1:]:
                differences, photos = _paired(frame, best, other, column, metric.name)
                _, low, high = cluster_bootstrap(differences, photos, level)
                if not (low > 0 or high < 0):  # the interval holds 0 (or cannot be estimated): a tie
                    tied.add(other)
            marks[metric.name, column] = tied
    for metric in PER_SET:  # one value per cell, no interval: the best by value
        part = cells_[cells_["metric"] == metric.name].dropna(subset=["value"])
        for column, group in part.groupby("column"):
            pick = group["value"].idxmin() if metric.better == "min" else group["value"].idxmax()
            marks[metric.name, column] = {group.loc[pick, "method"]}
    return marks


def _estimate(method, metric, column, values, photos) -> dict:
    """A summary cell: the mean of per-pair values with its interval (bootstrap over photos) and the
    standard deviation over pairs (ddof 1: `--stat mean-std`)."""
    mean, low, high = cluster_bootstrap(values, photos)
    values = np.asarray(values, float)
    std = float(np.std(values, ddof=1)) if values.size > 1 else float("nan")
    cell = dict(method=method, metric=metric, column=column)
    return cell | dict(value=mean, low=low, high=high, std=std, pairs=len(values), photos=len(set(photos)))


def _paired_differences(frame, reference: str, columns) -> pd.DataFrame:
    rows = []
    for method in sorted(set(frame["method"]) - {reference}):
        for column in columns:
            for metric in [m for m in PER_IMAGE if m.row]:
                differences, photos = _paired(frame, method, reference, column, metric.name)
                if differences.size:
                    rows.append(_estimate(method, metric.name, column, differences, photos))
    return pd.DataFrame(rows)


def _protocol(folder: Path, frame) -> str:
    """The pairing behind a table: hashes of its image and mask sets, and the pairing file's."""
    images = content_hash(*sorted(set(frame["image_hash"])))
    masks = content_hash(*sorted(set(frame["mask_hash"])))
    pairing = pairing_hash(folder)
    run = read_run_settings(folder)
    if "seed" in run:
        pairing += f", seed {run['seed']}"
    return (
        f"{frame['image'].nunique()} images (set {images}) x {frame['mask'].nunique()} masks (set {masks}), "
        f"pairing {pairing}"
    )


def _inception_rows(folder: Path, frame) -> pd.DataFrame:
    if not has_vectors(folder, INCEPTION_VECTORS):
        return pd.DataFrame(columns=["method", "metric", "column", "value"])
    rows = []
    for (method, column), group in frame.groupby(["method", "column"]):
        vectors = saved_vectors(folder, INCEPTION_VECTORS, method, group["mask"], minimum=10)
        if vectors is None:
            continue
        score, _ = inception_score(vectors[0])
        gt_score, _ = inception_score(vectors[1])
        rows += [
            dict(method=method, metric=IS.name, column=column, value=score),
            dict(method=method, metric=IS_DROP.name, column=column, value=gt_score - score),
        ]
    return pd.DataFrame(rows, columns=["method", "metric", "column", "value"])


def _tf_inception_rows(folder: Path, frame) -> pd.DataFrame:
    """The published-style Inception score per cell, from the FID network's saved logits."""
    rows = []
    if has_vectors(folder, TF_LOGITS):
        for (method, column), group in frame.groupby(["method", "column"]):
            vectors = saved_vectors(folder, TF_LOGITS, method, group["mask"], minimum=10)
            if vectors is not None:
                rows.append(dict(method=method, metric=IS_TF.name, column=column, value=inception_score_tf(vectors[0])))
    return pd.DataFrame(rows, columns=["method", "metric", "column", "value"])


def _distribution(folder: Path, frame) -> pd.DataFrame | None:
    """FID and KID per bin (both border categories) and over every bin (TOTAL), per method, from the
    saved Inception features, from 2 images up; `biased` marks FID from fewer than FID_MIN_IMAGES
    (the feature dimension), where its covariances are singular and its bias dominates."""
    if not has_vectors(folder, FEATURE_VECTORS):
        return None
    rows = []
    groups = [*frame.groupby(["method", "bin"]), *(((m, TOTAL), g) for m, g in frame.groupby("method"))]
    for (method, bin_), group in groups:
        vectors = saved_vectors(folder, FEATURE_VECTORS, method, group["mask"], minimum=2)
        if vectors is None:
            continue
        outputs, real = vectors
        rows.append(
            dict(
                method=method,
                bin=bin_,
                images=len(outputs),
                fid=fid(outputs, real),
                kid=kid(outputs, real),
                biased=len(outputs) < FID_MIN_IMAGES,
            )
        )
    return pd.DataFrame(rows) if rows else None


def distribution_table(summary: Summary) -> Table | None:
    """The FID and KID table (N and B together): rows metric x method, a column per bin and one over
    every bin, each cell the value and how many images it was computed from."""
    if summary.distribution is None:
        return None
    columns = [*summary.bins.labels(), TOTAL]
    table = Table(
        ["metric", "method"],
        [f"{b} {BOTH}" for b in columns],
        caption=(
            "FID and KID per bin and over every bin, N and B together (n: images). FID from fewer than "
            f"{FID_MIN_IMAGES:,} images (the feature dimension) is biased upward: compare such values only at "
            "equal n; KID is unbiased."
        ),
    )
    for metric in PER_BIN:
        for method, group in summary.distribution.groupby("method"):
            by_bin = group.set_index("bin")
            table.rows.append(
                [metric.label, method]
                + [
                    Number(by_bin.loc[b, metric.name], 4, format="g", count=int(by_bin.loc[b, "images"]))
                    if b in by_bin.index
                    else None
                    for b in columns
                ]
            )
    return table


def biased_fid(summary: Summary) -> bool:
    """Whether any FID of the summary comes from fewer than FID_MIN_IMAGES images."""
    return summary.distribution is not None and bool(summary.distribution["biased"].any())


def timing(results_dir) -> pd.DataFrame:
    """Seconds per image and device, per method."""
    frame = _results_frame(Path(results_dir))
    return (
        frame.groupby("method")
        .agg(images=("mask", "size"), seconds_per_image=("seconds", "mean"), device=("device", "first"))
        .reset_index()
    )


def timing_table(results_dir) -> Table:
    frame = timing(results_dir)
    table = Table(["method", "device"], ["seconds per image"], caption="n: images timed.", html_id="timing")
    for r in frame.itertuples():
        table.rows.append([r.method, r.device, Number(r.seconds_per_image, 4, count=r.images)])
    return table


CAPTION = (
    "Cells: mean [95 % interval, bootstrap over photos]. Bold: best in column, or tied for best "
    "(paired bootstrap, Bonferroni over the {n} columns)."
)
CAPTION_STD = (
    "Cells: mean ± standard deviation over pairs. Bold: best in column, or tied for best "
    "(paired bootstrap over photos, Bonferroni over the {n} columns)."
)


STATS = ("mean-ci", "mean-std")


def table1(summary: Summary, with_paper: bool = False, not_run=NOT_RUN, stat: str = "mean-ci") -> Table:
    """Table 1: rows metric x method, a Number per column (mean, interval, bold where marked best); the
    paper's rows, methods not run and the paired differences with `summary.against` where asked.
    `stat` 'mean-std' prints each cell as mean ± the standard deviation over its pairs instead."""
    if stat not in STATS:
        raise UserError(f"--stat {stat!r}: {' or '.join(STATS)}")
    bins = summary.bins
    if with_paper and bins != PAPER_BINS:
        raise UserError("--with-paper: the paper's rows have the paper's columns: use --bins paper, N and B apart")
    columns = bins.columns(summary.total)
    caption = (CAPTION if stat == "mean-ci" else CAPTION_STD).format(n=len(bins.columns())) + (
        f" Pairs: {summary.protocol}." if summary.protocol else ""
    )
    if summary.ssim_border == "include":
        caption += " SSIM over every pixel, the windows at the border zero-padded (as LaMa's evaluator)."
    if summary.outside_masks:
        caption += f" {summary.outside_masks} masks of the set lie outside every bin (0.01, 0.6] and are not scored."
    if summary.left_out:
        caption += f" {summary.left_out} scored masks lie outside these bins and are not in the table."
    groups = [(heading, len(bins.categories())) for heading in bins.headings()] + (
        [("all bins", 1)] if summary.total else []
    )
    subheads = list(bins.categories()) * len(bins.labels()) + ([BOTH] if summary.total else [])
    table = Table(["metric", "method"], columns, caption=caption, groups=groups, subheads=subheads, html_id="table1")
    for metric in [m for m in METRICS if m.row]:
        part = summary.cells[summary.cells["metric"] == metric.name]
        if part.empty:
            continue
        table.rows += [
            _row(metric, method, group, columns, summary.best, stat) for method, group in part.groupby("method")
        ]
        if with_paper and metric.name in PAPER_TABLE1:
            table.rows += [
                [metric.label, f"{m} (paper)", *(Number(v, metric.decimals) for v in values)]
                for m, values in PAPER_TABLE1[metric.name].items()
            ]
        table.rows += [
            [metric.label, f"{m} (not run)", *[None] * len(columns)]
            for m in not_run
            if m not in set(summary.cells["method"]) and bins == PAPER_BINS and metric.in_paper  # the paper's cells
        ]
        if summary.against is not None and not summary.against.empty:
            differences = summary.against[summary.against["metric"] == metric.name]
            table.rows += [
                _row(metric, f"{method} - {summary.reference}", group, columns, stat=stat)
                for method, group in differences.groupby("method")
            ]
    return table


def _row(metric, method, group, columns, best=None, stat="mean-ci") -> list:
    """A row of Table 1; `best` is Summary.best (the bold marks), None for rows that are never bold."""
    by_column = group.set_index("column")
    row = [metric.label, method]
    for column in columns:
        if column in by_column.index and pd.notna(by_column.loc[column, "value"]):
            entry = by_column.loc[column]
            low, high = (entry.get("low"), entry.get("high")) if stat == "mean-ci" else (None, None)
            std = entry.get("std") if stat == "mean-std" else None
            marked = method in (best or {}).get((metric.name, column), ())
            row.append(Number(entry["value"], metric.decimals, low, high, marked, std=std))
        else:
            row.append(None)
    return row


def tables(summary: Summary, with_paper: bool = False, stat: str = "mean-ci") -> list[Table]:
    """What `benchmark table` writes: Table 1, and the per-bin FID and KID table where there is one."""
    distribution = distribution_table(summary)
    return [table1(summary, with_paper, stat=stat)] + ([distribution] if distribution is not None else [])

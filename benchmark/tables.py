"""Table 1 of the paper from a results file: rows metric x method, columns 6 bins x N/B.

The paper's 'IScore' row is lower-is-better and grows with the hole size, so it cannot be the raw
Inception score (which is higher-is-better); we believe it is the drop of the score from the ground
truth images to the outputs. We report the raw score of the outputs ('IS'), and that drop
('IS drop' = IS(ground truth) - IS(outputs)), when Inception-v3 weights were given.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from pconvkit.benchmark.data import cells
from pconvkit.benchmark.methods import NOT_RUN
from pconvkit.benchmark.metrics import METRICS, PER_IMAGE, inception_score
from pconvkit.benchmark.results import read_results, results_path
from pconvkit.errors import UserError
from pconvkit.files import read_csv_rows


def _paper_table1() -> dict:
    """Table 1 of the paper, transcribed in paper_table1.csv: {metric: {method: 12 values, in
    column_labels() order}}."""
    table = {}
    for row in read_csv_rows(Path(__file__).with_name("paper_table1.csv")):
        metric, method = row.pop("metric"), row.pop("method")
        table.setdefault(metric, {})[method] = [float(v) for v in row.values()]
    return table


PAPER_TABLE1 = _paper_table1()


def column_labels():
    return [f"{b} {c}" for c, b in cells()]


def _results_frame(results_dir: Path) -> pd.DataFrame:
    """The rows of a results folder or file, metrics as floats; a one-line error where there are none."""
    rows = read_results(results_path(results_dir))
    if not rows and any(Path(results_dir).glob("results-shard-*-of-*.csv")):
        raise UserError(f"{results_dir} holds the shard files of a run: join them with `benchmark merge` first")
    if not rows:
        raise UserError(f"no results in {results_dir}")
    frame = pd.DataFrame(rows)
    for metric in [m.name for m in PER_IMAGE] + ["seconds"]:
        frame[metric] = frame[metric].astype(float)
    return frame


def summarise(results_dir) -> pd.DataFrame:
    """Long table: method, metric, column label, value (NaN where a cell has no result)."""
    results_dir = Path(results_dir)
    frame = _results_frame(results_dir)
    frame["column"] = frame["bin"] + " " + frame["category"]
    long = frame.melt(id_vars=["method", "column"], value_vars=[m.name for m in PER_IMAGE], var_name="metric")
    summary = long.groupby(["method", "metric", "column"], as_index=False)["value"].mean()
    inception = _inception_rows(results_dir if results_dir.is_dir() else results_dir.parent, frame)
    return pd.concat([summary, inception], ignore_index=True) if len(inception) else summary


def _inception_rows(results_dir: Path, frame) -> pd.DataFrame:
    folder = results_dir / "inception"
    if not (folder / "gt").is_dir():
        return pd.DataFrame(columns=["method", "metric", "column", "value"])
    rows = []
    for (method, column), group in frame.groupby(["method", "column"]):
        paths = [folder / method / f"{m}.npy" for m in group["mask"]]
        gt_paths = [folder / "gt" / f"{m}.npy" for m in group["mask"]]
        if len(paths) < 10 or not all(p.exists() for p in paths + gt_paths):
            continue
        score, _ = inception_score(np.stack([np.load(p) for p in paths]))
        gt_score, _ = inception_score(np.stack([np.load(p) for p in gt_paths]))
        rows += [
            dict(method=method, metric="is", column=column, value=score),
            dict(method=method, metric="is_drop", column=column, value=gt_score - score),
        ]
    return pd.DataFrame(rows)


def timing(results_dir) -> pd.DataFrame:
    """Seconds per image and device, per method."""
    frame = _results_frame(Path(results_dir))
    return (
        frame.groupby("method")
        .agg(images=("mask", "size"), seconds_per_image=("seconds", "mean"), device=("device", "first"))
        .reset_index()
    )


def table1(summary: pd.DataFrame, with_paper: bool = False, not_run=NOT_RUN) -> list[dict]:
    """Rows of Table 1: dicts with 'metric', 'method', 'best' (set of bold columns) and one value per column."""
    columns = column_labels()
    table = []
    for metric in METRICS:
        part = summary[summary["metric"] == metric.name]
        if part.empty:
            continue
        wide = part.pivot(index="method", columns="column", values="value").reindex(columns=columns)
        block = [dict(metric=metric.label, method=m, **{c: wide.loc[m, c] for c in columns}) for m in wide.index]
        if with_paper and metric.name in PAPER_TABLE1:
            block += [
                dict(metric=metric.label, method=f"{m} (paper)", **dict(zip(columns, v)))
                for m, v in PAPER_TABLE1[metric.name].items()
            ]
        ours = [r for r in block if not r["method"].endswith("(paper)")]
        for column in columns:
            values = [r[column] for r in ours if pd.notna(r[column])]
            target = (min if metric.better == "min" else max)(values) if values else None
            for r in block:
                r.setdefault("best", set())
                if target is not None and not r["method"].endswith("(paper)") and r[column] == target:
                    r["best"].add(column)
        block += [
            dict(metric=metric.label, method=f"{m} (not run)", best=set(), **{c: None for c in columns})
            for m in not_run
        ]
        for r in block:
            r["decimals"] = metric.decimals
        table += block
    return table


def _cell(value, decimals):
    return "" if value is None or pd.isna(value) else f"{value:.{decimals}f}"


def to_csv(table) -> str:
    columns = column_labels()
    lines = [",".join(["metric", "method"] + columns)]
    for r in table:
        lines.append(",".join([r["metric"], r["method"]] + [_cell(r[c], r["decimals"]) for c in columns]))
    return "\n".join(lines) + "\n"


def to_markdown(table) -> str:
    columns = column_labels()
    lines = ["| metric | method | " + " | ".join(columns) + " |", "|---|---|" + "---:|" * len(columns)]
    for r in table:
        cells_ = [
            (f"**{_cell(r[c], r['decimals'])}**" if c in r["best"] else _cell(r[c], r["decimals"])) for c in columns
        ]
        lines.append(f"| {r['metric']} | {r['method']} | " + " | ".join(cells_) + " |")
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for char, replacement in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        text = text.replace(char, replacement)
    return text


def to_latex(table) -> str:
    columns = column_labels()
    bins = list(dict.fromkeys(c.split()[0] for c in columns))
    lines = [
        r"\begin{tabular}{ll" + "r" * len(columns) + "}",
        r"\hline",
        " & & " + " & ".join(rf"\multicolumn{{2}}{{c}}{{({b.replace('-', ',')}]}}" for b in bins) + r" \\",
        " & & " + " & ".join(c.split()[1] for c in columns) + r" \\",
        r"\hline",
    ]
    for r in table:
        cells_ = [
            (rf"\textbf{{{_cell(r[c], r['decimals'])}}}" if c in r["best"] else _cell(r[c], r["decimals"]))
            for c in columns
        ]
        lines.append(f"{_latex_escape(r['metric'])} & {_latex_escape(r['method'])} & " + " & ".join(cells_) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


FORMATS = {"csv": to_csv, "markdown": to_markdown, "latex": to_latex}

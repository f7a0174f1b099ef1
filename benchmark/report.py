"""One self-contained HTML page of a run (the optional extra `pconvkit[report]`, for matplotlib):
Table 1 with intervals, each metric against the hole ratio per method (N and B, as the paper's
Fig. 10 plots quality against hole size), the comparison picture (one pair per bin), each method's
worst pairs, timings, and a protocol card that makes the table citable and reproducible. The
pictures lie beside the page; no server is needed.
"""

import html
import json
from pathlib import Path

import numpy as np

import pconvkit
from pconvkit.benchmark import confidence, metrics
from pconvkit.benchmark.grid import comparison_grid, grid_pairs
from pconvkit.benchmark.methods import METHODS
from pconvkit.benchmark.render import plot_label, to_html
from pconvkit.benchmark.results import read_pairing, read_results, read_run_settings, results_path
from pconvkit.benchmark.tables import distribution_table, summarise, table1, timing_table
from pconvkit.errors import require_extra
from pconvkit.files import content_hash, ensure_writable_dir, save_figure, write_text_atomic
from pconvkit.maskgen.bins import BINS, CATEGORIES
from pconvkit.maskgen.manifest import find_test_dir, read_settings

WORST_PAIRS = 2


def write_report(results_dir, images: dict, out_dir, method_options=None, log=print) -> Path:
    """Write OUT/index.html and its pictures for the run in `results_dir`; returns the page."""
    results_dir, out_dir = Path(results_dir), ensure_writable_dir(out_dir)
    summary = summarise(results_dir)
    rows = read_results(results_path(results_dir))
    methods = list(dict.fromkeys(row["method"] for row in rows))
    runnable = [m for m in methods if m in METHODS or ":" in m]  # outputs made elsewhere cannot be drawn again
    plots = [
        _plot_metric(summary, metric, out_dir)
        for metric in metrics.PER_IMAGE
        if metric.row
        if (summary.cells["metric"] == metric.name).any()
    ]
    log("report: comparison picture")
    grid = comparison_grid(grid_pairs(results_dir), images, runnable, out_dir / "grid.png", method_options)
    worst = {}
    pairs = {mask.mask_id: (mask, image) for mask, image in read_pairing(results_dir)}
    for method in runnable:
        ranked = sorted((row for row in rows if row["method"] == method), key=lambda row: -float(row[metrics.L1.name]))
        chosen = [pairs[row["mask"]] for row in ranked[:WORST_PAIRS] if row["mask"] in pairs]
        if chosen:
            log(f"report: the worst pairs of {method}")
            worst[method] = comparison_grid(
                chosen, images, [method], out_dir / f"worst_{_slug(method)}.png", method_options
            )
    page = _page(results_dir, summary, rows, methods, plots, grid, worst)
    write_text_atomic(out_dir / "index.html", page)
    return out_dir / "index.html"


def _slug(name: str) -> str:
    """A file name part for a method name: its letters and digits, and a hash of the whole name, so
    that two names that differ only in punctuation (a:b, a.b) never share a picture."""
    return "".join(c if c.isalnum() else "_" for c in name) + "-" + content_hash(name)[:6]


def _plot_metric(summary, metric, out_dir: Path) -> Path:
    """The metric against the hole ratio, per method: mean and 95 % interval per bin, N and B."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centres = {f"{low:g}-{high:g}": (low + high) / 2 for low, high in BINS}
    cells = summary.cells[summary.cells["metric"] == metric.name]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for axis, category in zip(axes, CATEGORIES):
        for method, group in cells[cells["column"].str.endswith(f" {category}")].groupby("method"):
            group = group.assign(x=group["column"].str.split().str[0].map(centres)).sort_values("x")
            errors = np.vstack([group["value"] - group["low"], group["high"] - group["value"]])
            axis.errorbar(
                group["x"], group["value"], yerr=np.nan_to_num(errors), marker="o", capsize=3, label=plot_label(method)
            )
        axis.set_title(
            f"{category}: " + ("no hole within 50 px of the border" if category == "N" else "holes may touch it")
        )
        axis.set_xlabel("hole-to-image ratio (bin centre)")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(metric.label)
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, out_dir / f"plot_{metric.name}.png", dpi=110)


def _protocol(results_dir: Path, summary, rows, methods) -> dict:
    """What another lab needs to rebuild the pairs and compare numbers."""
    card = {"pconvkit": pconvkit.__version__, "pairs": summary.protocol}
    card["run"] = read_run_settings(results_dir)
    pairing = read_pairing(results_dir)
    test_dir = find_test_dir(pairing[0][0].path.parents[2]) if pairing else None
    if test_dir is not None:
        card["mask set"] = {"folder": test_dir.name, "settings": read_settings(test_dir)}
    card["methods"] = {m: sorted({r["method_id"] for r in rows if r["method"] == m}) for m in methods}
    card["metrics"] = {m.label: m.over for m in metrics.METRICS + metrics.PER_BIN}
    card["metrics"] |= {
        "SSIM window": f"Gaussian window {metrics.SSIM_TAPS} taps, sigma {metrics.SSIM_SIGMA}, K1 {metrics.SSIM_K1}, "
        f"K2 {metrics.SSIM_K2}, population covariances, channels averaged (scikit-image's)",
        "intervals": f"{confidence.LEVEL:.0%} percentile cluster bootstrap over photos, {confidence.RESAMPLES} "
        f"resamples, seed {confidence.SEED}; bold: Bonferroni over {confidence.COLUMNS_PER_METRIC} columns",
    }
    return card


def _page(results_dir, summary, rows, methods, plots, grid, worst) -> str:
    distribution = distribution_table(summary)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>pconvkit report</title><style>",
        "body{font-family:sans-serif;margin:2em;max-width:1400px} table{border-collapse:collapse;font-size:12px}",
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right} td.label{text-align:left}",
        "caption{text-align:left;padding:0.5em 0} .best{font-weight:bold;background:#eef7ee}",
        "img{max-width:100%;border:1px solid #ddd} pre{background:#f6f6f6;padding:1em}",
        "</style></head><body>",
        f"<h1>Benchmark report: {html.escape(results_dir.resolve().name)}</h1>",
        f"<p>{len(rows)} results rows, {len(methods)} methods.</p>",
        "<h2>Table 1</h2>",
        to_html(table1(summary)),
    ]
    if distribution is not None:
        parts += ["<h2>FID and KID per bin</h2>", to_html(distribution)]
    parts.append("<h2>Quality against hole size</h2>")
    parts += [f"<p><img src='{p.name}' alt='{p.stem}'></p>" for p in plots]
    parts += ["<h2>Comparison, one pair per bin</h2>", f"<p><img src='{grid.name}' alt='comparison grid'></p>"]
    parts.append(f"<h2>Each method's worst pairs (by {metrics.L1.label})</h2>")
    parts += [
        f"<h3>{html.escape(m)}</h3><p><img src='{p.name}' alt='worst pairs of {html.escape(m)}'></p>"
        for m, p in worst.items()
    ]
    parts += [
        "<h2>Timing</h2>",
        to_html(timing_table(results_dir)),
        "<h2>Protocol</h2>",
        f"<pre id='protocol'>{html.escape(json.dumps(_protocol(results_dir, summary, rows, methods), indent=1))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def require_matplotlib():
    require_extra("the pictures", "report", "matplotlib")

"""The dilation sweep of the paper's Fig. 10: the same image inpainted with its hole region dilated
by 0, 5, 15, 35, 55 and 95 px, to show that quality does not deteriorate catastrophically as holes grow.

Masks are chosen from the two smallest bins (a hole dilated by 95 px grows by over 10 % of a 512-px
image, so larger starting holes would end near-full), fewest connected hole components first (a few
compact holes grow into a few large ones, as in the paper's figure), ties broken by mask id. Each
chosen mask's holes are dilated by a disk of radius D px (cv2.dilate with the pixels of
x^2 + y^2 <= D^2); an N mask keeps its 50-px frame valid, as maskgen's N masks do, a B mask grows up to the
image border. All dilations of a mask are paired with the same photo, and run through the harness
(`run_benchmark`): resumable, shardable, into a results folder of their own, whose rows carry the
dilation (dD) where Table 1 has the bin.

OUT/masks/dD/ID.png   the dilated masks (white = valid)
OUT/results.csv       the harness's rows; OUT/sweep.csv, sweep.md, sweep_METRIC.png, figure10.png
"""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from pconvkit.benchmark.confidence import cluster_bootstrap
from pconvkit.benchmark.data import MaskEntry, pair_masks, read_pair
from pconvkit.benchmark.methods import fill, make_method
from pconvkit.benchmark.metrics import PAPER_METRICS, PER_IMAGE
from pconvkit.benchmark.render import Number, Table, plot_label, to_csv, to_markdown
from pconvkit.benchmark.results import read_results, results_path
from pconvkit.benchmark.run import run_benchmark
from pconvkit.errors import UserError
from pconvkit.files import encode_image, encode_png, exclusive_lock, save_figure, write_bytes_atomic, write_text_atomic
from pconvkit.images import mask_to_png, read_mask, to_uint8
from pconvkit.maskgen.bins import BORDER_MARGIN, bin_label, border_frame

PAPER_DILATIONS = (0, 5, 15, 35, 55, 95)
SMALLEST_BINS = (bin_label(0), bin_label(1))


def dilate_holes(valid_mask: np.ndarray, radius: int, category: str = "B", margin: int = BORDER_MARGIN) -> np.ndarray:
    """Holes grown by a disk of `radius` px (uint8, 1 = valid); an N mask's frame stays valid.

    Examples
    --------
    >>> valid = np.ones((9, 9), np.uint8)
    >>> valid[4, 4] = 0
    >>> int((dilate_holes(valid, 2) == 0).sum())  # a disk of radius 2: 13 pixels
    13
    """
    if radius == 0:
        return np.asarray(valid_mask, np.uint8).copy()
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    disk = (x * x + y * y <= radius * radius).astype(np.uint8)  # OpenCV's MORPH_ELLIPSE is not round at small sizes
    holes = cv2.dilate((np.asarray(valid_mask) == 0).astype(np.uint8), disk)
    if category == "N":
        holes[border_frame(holes.shape, margin)] = 0
    return (holes == 0).astype(np.uint8)


def choose_masks(masks, count: int) -> list[MaskEntry]:
    """`count` masks of the two smallest bins, fewest hole components first (see the module docstring)."""
    small = [m for m in masks if m.bin in SMALLEST_BINS]
    if not small:
        raise UserError(f"no mask in the bins {', '.join(SMALLEST_BINS)} to dilate: give a mask set with small holes")

    def components(mask):
        holes = (read_mask(mask.path, mask.hole_white, mask.threshold) == 0).astype(np.uint8)
        return cv2.connectedComponents(holes, connectivity=8)[0] - 1

    return sorted(small, key=lambda m: (components(m), m.mask_id))[:count]


def run_sweep(
    methods,
    images: dict,
    masks,
    out_dir,
    dilations=PAPER_DILATIONS,
    count: int = 10,
    seed: int = 0,
    workers: int = 1,
    batch_size: int = 8,
    method_options=None,
    shard=(1, 1),
    log=print,
):
    """Dilate the chosen masks, run the methods on every (dilated mask, photo) and write the results
    table, plots and picture. Returns the results file."""
    out_dir = Path(out_dir)
    chosen = choose_masks(masks, count)
    log(
        f"sweep: {len(chosen)} masks of {', '.join(SMALLEST_BINS)}, fewest components first: "
        f"{', '.join(m.mask_id for m in chosen)}"
    )
    side = next(iter(images.values())).shape[0]
    too_large = [radius for radius in dilations if radius > side // 2]
    if too_large:  # a disk that wide turns the image all hole, and costs radius^2 per pixel
        raise UserError(
            f"--dilations {too_large[0]}: at most {side // 2} px on {side}-px images (the paper's largest is 95)"
        )
    photos = dict(pair_masks(chosen, images.keys(), seed))
    # every dilated mask is made in memory and checked against what the folder holds before one is written
    planned = []
    for mask in chosen:
        valid = read_pair(mask, images[photos[mask]])
        for radius in dilations:
            path = out_dir / "masks" / f"d{radius}" / f"{mask.mask_id}.png"
            planned.append((path, encode_png(mask_to_png(dilate_holes(valid, radius, mask.category))), mask, radius))
    with sweep_lock(out_dir):
        for path, png, *_ in planned:
            if path.exists() and path.read_bytes() != png:
                raise UserError(
                    f"{out_dir} holds a sweep of other masks ({path.relative_to(out_dir)} differs: another --masks, "
                    "--count, --size or --seed): give another --out"
                )
        pairs = []
        for path, png, mask, radius in planned:
            if not path.exists():
                write_bytes_atomic(path, png)
            pairs.append((MaskEntry(f"{mask.mask_id}_d{radius}", path, mask.category, f"d{radius}"), photos[mask]))
    return run_benchmark(
        methods, images, [], out_dir, seed, workers, batch_size, method_options, log=log, shard=shard, pairs=pairs
    )


def sweep_lock(out_dir):
    """One sweep at a time checks and writes a folder's dilated masks, so that two sweeps cannot write
    theirs under one another's rows; shards of one sweep write the same bytes, and run side by side."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    busy = f"{out_dir} is in use by another sweep: wait for it, or give this one another --out"
    return exclusive_lock(Path(out_dir) / "sweep.lock", busy)


def sweep_table(results_dir) -> pd.DataFrame:
    """method, dilation, metric, value, low, high (cluster bootstrap over photos), pairs."""
    rows = read_results(results_path(results_dir))
    if not rows:
        raise UserError(f"no results in {results_dir}")
    frame = pd.DataFrame(rows)
    frame["dilation"] = frame["bin"].str[1:].astype(int)
    out = []
    for (method, dilation), group in frame.groupby(["method", "dilation"]):
        for metric in [m.name for m in PAPER_METRICS]:
            mean, low, high = cluster_bootstrap(group[metric].astype(float), group["image"])
            out.append(
                dict(method=method, dilation=dilation, metric=metric, value=mean, low=low, high=high, pairs=len(group))
            )
    return pd.DataFrame(out)


def rendered_sweep(table: pd.DataFrame) -> Table:
    """The sweep as a table of typed rows: metric x method, a column per dilation (px)."""
    dilations = sorted(set(table["dilation"]))
    rendered = Table(
        ["metric", "method"],
        [str(d) for d in dilations],
        caption="Each metric against the hole dilation (px): mean [95 % interval, bootstrap over photos].",
        count_name="pairs",
        column_name="dilation",
        show_counts=False,
    )
    for metric in PAPER_METRICS:
        part = table[table["metric"] == metric.name]
        for method, group in part.groupby("method"):
            by_dilation = {int(r.dilation): r for r in group.itertuples()}
            cells = [_number(by_dilation[d], metric) if d in by_dilation else None for d in dilations]
            rendered.rows.append([metric.label, method, *cells])
    return rendered


def _number(entry, metric) -> Number:
    return Number(entry.value, metric.decimals, entry.low, entry.high, count=int(entry.pairs))


def write_outputs(results_dir, images: dict, methods, method_options=None) -> list:
    """sweep.csv, sweep.md, one plot per metric, and figure10.png (the first mask's pair)."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results_dir = Path(results_dir)
    table = sweep_table(results_dir)
    written = [results_dir / "sweep.csv", results_dir / "sweep.md"]
    rendered = rendered_sweep(table)
    write_text_atomic(written[0], to_csv(rendered))
    write_text_atomic(written[1], to_markdown(rendered))
    labels = {m.name: m for m in PER_IMAGE}
    for metric in [m.name for m in PAPER_METRICS]:
        figure, axis = plt.subplots(figsize=(5, 3.5))
        for method, group in table[table["metric"] == metric].groupby("method"):
            group = group.sort_values("dilation")
            errors = np.nan_to_num(np.vstack([group["value"] - group["low"], group["high"] - group["value"]]))
            axis.errorbar(
                group["dilation"], group["value"], yerr=errors, marker="o", capsize=3, label=plot_label(method)
            )
        axis.set_xlabel("hole dilation (px)")
        axis.set_ylabel(labels[metric].label)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        figure.tight_layout()
        written.append(save_figure(figure, results_dir / f"sweep_{metric}.png", dpi=110))
    written.append(_figure10(results_dir, images, methods, method_options))
    return written


def _figure10(results_dir, images, methods, method_options, thumb: int = 192):
    """Input row (holes white) and one output row per method, a column per dilation, for one pair."""
    from pconvkit.benchmark.results import read_pairing
    from pconvkit.images import show_holes

    pairs = read_pairing(results_dir)
    first = pairs[0][0].mask_id.rsplit("_d", 1)[0]
    columns = sorted(
        [(m, i) for m, i in pairs if m.mask_id.rsplit("_d", 1)[0] == first], key=lambda pair: int(pair[0].bin[1:])
    )
    instances = {m: make_method(m, **(method_options or {}).get(m, {})) for m in methods}
    rows = []
    for label in ["input"] + list(methods):
        tiles = []
        for mask, image_name in columns:
            image = images[image_name]
            valid = read_pair(mask, image)
            shown = show_holes(image, valid) if label == "input" else fill(instances[label], image, valid)
            tile = cv2.resize(to_uint8(shown), (thumb, thumb), interpolation=cv2.INTER_AREA)
            cv2.putText(
                tile, f"{label} {mask.bin[1:]}px", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 0, 0), 1, cv2.LINE_AA
            )
            tiles.append(tile)
        rows.append(np.hstack(tiles))
    path = results_dir / "figure10.png"
    write_bytes_atomic(path, encode_image(path, cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR)))
    return path

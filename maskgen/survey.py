"""Looking at mask folders: classify, statistics, contact sheets, and NVIDIA's released masks."""

from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError
from pconvkit.files import encode_png, read_csv_rows, save_figure, write_bytes_atomic
from pconvkit.images import list_images, mask_to_png, read_mask
from pconvkit.maskgen.bins import (
    BINS,
    BORDER_MARGIN,
    CATEGORIES,
    CELLS,
    bin_label,
    border_distance,
    check_polarity,
    classify,
)
from pconvkit.maskgen.manifest import (
    find_test_dir,
    manifest_polarity,
    read_manifest,
    write_import_settings,
    write_imported_mask,
    write_manifest,
)
from pconvkit.maskgen.shots import SKIP_REASONS


def classify_folder(
    folder,
    hole_white: bool = False,
    margin: int = BORDER_MARGIN,
    threshold: float | None = None,
    unique_names: str | None = None,
) -> list[dict]:
    """Category, bin and hole ratio of every mask in a folder, re-measured from the pixels
    (`unique_names`: as `list_images`)."""
    rows = []
    for path in list_images(folder, unique_names):
        valid = read_mask(path, hole_white, threshold)
        category, index, ratio = classify(valid, margin)
        rows.append(
            dict(
                path=str(path.relative_to(folder)),
                category=category,
                bin=bin_label(index) if index is not None else "outside",
                hole_ratio=ratio,
                border_distance=border_distance(valid),
            )
        )
    return rows


def mask_statistics(valid: np.ndarray) -> dict:
    """What tells masks apart: hole ratio, connected hole components (8-connectivity), compactness
    (total contour length of the holes, OpenCV's findContours with RETR_LIST and CHAIN_APPROX_NONE and
    closed arcLength, divided by the square root of the hole's pixel count: thin ragged streaks score
    high, blobs low), the share of the hole in its largest component, the median component area, and
    the holes seen as bands: their width and the length of their centre line (`hole_bands`)."""
    holes = (valid == 0).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=8)
    boundary = _contour_length(holes)
    areas = stats[1:, cv2.CC_STAT_AREA]
    area = int(holes.sum())
    band_width, centre_line = hole_bands(holes)
    return dict(
        hole_ratio=area / holes.size,
        components=count - 1,
        boundary_per_sqrt_area=boundary / np.sqrt(area) if area else 0.0,
        largest_share=float(areas.max() / area) if area else 0.0,
        median_component_area=float(np.median(areas)) if area else 0.0,
        band_width=band_width,
        centre_line=centre_line,
    )


def hole_bands(holes: np.ndarray) -> tuple[float, float]:
    """(width, centre-line length) of the holes (uint8, 1 = hole), in pixels.

    The centre line is the holes' skeleton (scikit-image); its length is half the length of its
    contours (both sides of a one-pixel line). The width is twice the median distance from the centre
    line to the valid region, less one: a straight band w px across gives w (w - 1 for an even w,
    whose centre falls between pixels). Two masks of one hole ratio can differ in either: thin bands
    along long outlines, or thick ones along short outlines.
    """
    from skimage.morphology import skeletonize

    if not holes.any():
        return 0.0, 0.0
    skeleton = skeletonize(holes.astype(bool))
    # outside the image counts as valid, as it does for the skeleton (and a mask all hole has a width)
    framed = cv2.copyMakeBorder(holes, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    to_valid = cv2.distanceTransform(framed, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    width = 2.0 * float(np.median(to_valid[skeleton])) - 1.0
    return width, _contour_length(skeleton.view(np.uint8)) / 2.0


def _contour_length(binary: np.ndarray) -> float:
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return float(sum(cv2.arcLength(c, True) for c in contours))


STATISTICS = (
    "hole_ratio",
    "components",
    "boundary_per_sqrt_area",
    "largest_share",
    "median_component_area",
    "band_width",
    "centre_line",
)


# NVIDIA's released test masks (12,000, measured with `maskgen import-nvidia` and `maskgen stats`):
# per (bin, category) the mean hole components (8-connectivity) and compactness (contour length /
# sqrt(hole area)); per bin the mean hole ratio of its N masks. What maskgen's masks should resemble.
NVIDIA_FIGURES = {
    ("0.01-0.1", "N"): (10.8, 16.7),
    ("0.01-0.1", "B"): (12.2, 18.1),
    ("0.1-0.2", "N"): (12.4, 19.7),
    ("0.1-0.2", "B"): (16.0, 22.2),
    ("0.2-0.3", "N"): (8.5, 18.2),
    ("0.2-0.3", "B"): (14.3, 22.4),
    ("0.3-0.4", "N"): (5.3, 15.6),
    ("0.3-0.4", "B"): (10.4, 20.5),
    ("0.4-0.5", "N"): (3.4, 13.7),
    ("0.4-0.5", "B"): (7.8, 18.8),
    ("0.5-0.6", "N"): (1.6, 8.3),
    ("0.5-0.6", "B"): (4.1, 13.0),
}
NVIDIA_MEAN_RATIO = dict(zip([bin_label(i) for i in range(len(BINS))], (0.058, 0.145, 0.244, 0.339, 0.435, 0.538)))
NVIDIA_TOLERANCE = 0.25  # a figure is NVIDIA-like within 25 % of theirs


def measured_masks(folder, hole_white: bool = False, margin: int = BORDER_MARGIN):
    """Every mask of a folder, classified and measured from its pixels, as a pandas DataFrame. A
    maskgen output (or its test folder) is read from its test set with its recorded polarity, each
    mask in the cell its manifest records (the set's own border margin), with its source video."""
    import pandas as pd

    test_dir = find_test_dir(folder)
    cells = {}
    if test_dir is not None:  # the set's own cells, classified with its own border margin
        folder, hole_white = test_dir, manifest_polarity(test_dir)
        cells = {
            row["path"]: dict(category=row["category"], bin=row["bin"], source_video=row.get("source_video"))
            for row in read_manifest(test_dir)
        }
    rows = []
    for row in classify_folder(folder, hole_white, margin):
        figures = mask_statistics(read_mask(Path(folder) / row["path"], hole_white))
        rows.append({**row, **cells.get(row["path"], {}), **figures})
    return pd.DataFrame(rows)


def folder_statistics(folder, hole_white: bool = False, margin: int = BORDER_MARGIN):
    """Per (category, bin) counts and mean statistics, as a pandas DataFrame."""
    return cell_statistics(measured_masks(folder, hole_white, margin))


def cell_statistics(frame):
    """Per (category, bin) counts and mean statistics of `measured_masks` rows."""
    return (
        frame.groupby(["category", "bin"])
        .agg(count=("path", "size"), **{f"mean_{name}": (name, "mean") for name in STATISTICS})
        .reset_index()
    )


def video_statistics(folder):
    """Per source video of a maskgen test set: its masks and cells, the mean of the figures that tell
    masks apart (components, compactness, band width, largest component's share), its cells' mean
    components and compactness over NVIDIA's in the same cells (the geometric mean over its cells of
    the ratios: 1 is NVIDIA-like), how many of those 2 x cells figures lie within NVIDIA_TOLERANCE of
    NVIDIA's (as `benchmarks/mask_realism.py` counts them), and the frame pairs `maskgen build`
    skipped (raw/test/skipped.csv)."""
    import pandas as pd

    test_dir = find_test_dir(folder)
    if test_dir is None:
        raise UserError(f"{folder} holds no maskgen test set (test/manifest.csv): --by-video needs one")
    frame = measured_masks(test_dir).rename(columns={"source_video": "video"})
    rows = []
    for video, masks in frame.groupby("video"):
        cells = masks[masks["bin"] != "outside"].groupby(["bin", "category"])[["components", "boundary_per_sqrt_area"]]
        ratios = np.array([means.to_numpy() / NVIDIA_FIGURES[cell] for cell, means in cells.mean().iterrows()])
        rows.append(
            dict(
                video=video,
                masks=len(masks),
                cells=len(ratios),
                components=masks["components"].mean(),
                compactness=masks["boundary_per_sqrt_area"].mean(),
                band_width=masks["band_width"].mean(),
                largest_share=masks["largest_share"].mean(),
                components_vs_nvidia=float(np.exp(np.log(ratios[:, 0]).mean())) if len(ratios) else np.nan,
                compactness_vs_nvidia=float(np.exp(np.log(ratios[:, 1]).mean())) if len(ratios) else np.nan,
                figures_like_nvidia=f"{int((np.abs(ratios - 1) <= NVIDIA_TOLERANCE).sum())} of {ratios.size}",
            )
        )
    table = pd.DataFrame(rows)
    skipped = test_dir.parent / "raw" / "test" / "skipped.csv"
    if skipped.is_file():  # frame pairs of each video, and those skipped as not one view
        counts = {row["video"]: row for row in read_csv_rows(skipped)}
        for column in ("pairs", *SKIP_REASONS):
            name = column if column == "pairs" else f"{column}_skipped"
            table[name] = [int(counts[v][column]) if v in counts else None for v in table["video"]]
        for column in ("camera_motion", "flow_method"):  # what the build measured of the clip, and chose
            table[column] = [counts.get(v, {}).get(column) or None for v in table["video"]]
    return table


def compare_folders(
    first, second, first_hole_white=False, second_hole_white=False, margin: int = BORDER_MARGIN, mostly_hole=False
):
    """Two mask sets side by side per cell: count, mean and quartiles of the hole ratio, and the mean
    of each statistic, with the relative difference second / first - 1. Each set's polarity is
    checked as `benchmark run` checks it (`mostly_hole`: both sets really are mostly hole)."""
    import pandas as pd

    def per_cell(folder, hole_white):
        frame = measured_masks(folder, hole_white, margin)
        if not mostly_hole:
            check_polarity(folder, frame["hole_ratio"], hole_white)
        frame = frame[frame["bin"] != "outside"]
        grouped = frame.groupby(["category", "bin"])
        table = grouped.agg(count=("path", "size"), **{name: (name, "mean") for name in STATISTICS})
        table["ratio_q1"] = grouped["hole_ratio"].quantile(0.25)
        table["ratio_q3"] = grouped["hole_ratio"].quantile(0.75)
        return table

    a, b = per_cell(first, first_hole_white), per_cell(second, second_hole_white)
    joined = a.add_suffix("_a").join(b.add_suffix("_b"), how="outer")
    for name in STATISTICS:
        joined[f"{name}_change"] = joined[f"{name}_b"] / joined[f"{name}_a"] - 1
    return joined.reindex(pd.MultiIndex.from_tuples(CELLS, names=["category", "bin"])).reset_index()


def comparison_lines(table, names=("A", "B")) -> list[str]:
    """One summary line per cell."""
    lines = []
    for _, row in table.iterrows():
        parts = [f"{row['bin']} {row['category']}: n {row['count_a']:.0f}/{row['count_b']:.0f}"]
        for name, short in (
            ("hole_ratio", "ratio"),
            ("components", "components"),
            ("boundary_per_sqrt_area", "compactness"),
            ("largest_share", "largest"),
            ("band_width", "band width"),
            ("centre_line", "centre line"),
        ):
            parts.append(
                f"{short} {_figure(row[f'{name}_a'])}/{_figure(row[f'{name}_b'])} ({row[f'{name}_change']:+.0%})"
            )
        lines.append(", ".join(parts))
    return [f"cell: {names[0]}/{names[1]} (relative change of {names[1]})"] + lines


def _figure(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def comparison_picture(table, path, names=("A", "B")):
    """The statistics per bin for both sets, N and B (matplotlib PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ("hole_ratio", "components", "boundary_per_sqrt_area", "largest_share", "band_width", "centre_line")
    figure, axes = plt.subplots(2, len(shown), figsize=(4 * len(shown), 7))
    for column, name in enumerate(shown):
        for line, category in enumerate(CATEGORIES):
            axis = axes[line, column]
            part = table[table["category"] == category]
            x = np.arange(len(part))
            axis.bar(x - 0.2, part[f"{name}_a"], 0.4, label=names[0])
            axis.bar(x + 0.2, part[f"{name}_b"], 0.4, label=names[1])
            axis.set_xticks(x, part["bin"], rotation=45, fontsize=7)
            axis.set_title(f"{name.replace('_', ' ')}, {category}", fontsize=9)
    axes[0, 0].legend()
    figure.tight_layout()
    return save_figure(figure, path, dpi=100)


def contact_sheets(
    folder,
    out_dir,
    hole_white: bool = False,
    per_sheet: int = 48,
    columns: int = 8,
    thumb: int = 128,
    margin: int = BORDER_MARGIN,
) -> list[Path]:
    """One PNG per category: rows of thumbnails, one row block per bin, holes drawn black."""
    rows = classify_folder(folder, hole_white, margin)
    written = []
    for category in CATEGORIES:
        blocks = []
        for index in range(len(BINS)):
            chosen = [r for r in rows if r["category"] == category and r["bin"] == bin_label(index)]
            chosen = chosen[: max(columns, per_sheet // len(BINS))]
            if not chosen:
                continue
            thumbs = [
                cv2.resize(
                    mask_to_png(read_mask(Path(folder) / r["path"], hole_white)),
                    (thumb, thumb),
                    interpolation=cv2.INTER_AREA,
                )
                for r in chosen
            ]
            thumbs += [np.full((thumb, thumb), 128, np.uint8)] * (-len(thumbs) % columns)
            label = np.full((20, columns * (thumb + 2)), 255, np.uint8)
            cv2.putText(label, f"{category} {bin_label(index)}", (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 0, 1)
            grid = [
                np.hstack([np.pad(t, 1, constant_values=160) for t in thumbs[i : i + columns]])
                for i in range(0, len(thumbs), columns)
            ]
            blocks += [label] + grid
        if blocks:
            path = Path(out_dir) / f"sheet_{category}.png"
            write_bytes_atomic(path, encode_png(np.vstack(blocks)))
            written.append(path)
    if not written:
        raise UserError(f"no mask of {folder} falls into a bin")
    return written


def import_nvidia(source, out_dir, margin: int = BORDER_MARGIN, hole_white_out: bool = False) -> Path:
    """Copy NVIDIA's released masks (white = hole) into our layout and manifest, re-measuring each.

    The file order (12 blocks of 1,000 in bin order, N before B) is not trusted: every mask goes to
    the cell its pixels say. Masks outside (0.01, 0.6] are listed with bin 'outside'.
    """
    test_dir = Path(out_dir) / "test"
    rows = [
        write_imported_mask(test_dir, read_mask(path, hole_white=True), path.stem, margin, "nvidia", hole_white_out)
        for path in list_images(source, unique_names="NVIDIA's masks (their ids)")
    ]
    write_import_settings(test_dir, "nvidia", True, hole_white_out, margin)
    return write_manifest(test_dir, rows)

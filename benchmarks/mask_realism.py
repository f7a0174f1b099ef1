"""How close a maskgen build's test masks (and its training masks) are to NVIDIA's released test set.

NVIDIA's figures below were measured on their 12,000 test masks (`maskgen import-nvidia`, then
`maskgen stats`): per cell, the mean number of hole components (8-connectivity), the mean
compactness (contour length / sqrt(hole area), `pconvkit.maskgen.survey.mask_statistics`) and, for
the N cells, the mean hole ratio. A user with NVIDIA's masks gets every statistic, per cell, with
`maskgen compare BUILD NVIDIA_IMPORT`.

    python benchmarks/mask_realism.py BUILD [BUILD ...]      # one table per build folder
    python benchmarks/mask_realism.py BUILD --train 2400     # also augmented training-pool masks
    python benchmarks/mask_realism.py A B --picture out.png  # the builds' figures beside NVIDIA's
    python benchmarks/mask_realism.py BUILD --reference-picture ../shared/reference/nvidia_test_masks.png
                                  # band width and centre line: the picture's masks against the build's
    python benchmarks/mask_realism.py BUILD --by-video   # each test video's masks per cell, and for two
                                  # videos the shares of the first that would match NVIDIA's figures

A figure passes when it is within 25 % of NVIDIA's (components, compactness) or within 0.02 (mean
ratio, N and B against NVIDIA's N figures, the only ones published with the masks' statistics).
"""

import argparse
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from pconvkit.images import read_mask
from pconvkit.maskgen.augment import AugmentedMasks
from pconvkit.maskgen.bins import BINS, bin_label, classify
from pconvkit.maskgen.manifest import find_test_dir, manifest_polarity, read_manifest
from pconvkit.maskgen.pool import load_pool, load_raw_mask
from pconvkit.maskgen.survey import (
    NVIDIA_FIGURES,
    NVIDIA_MEAN_RATIO,
    NVIDIA_TOLERANCE,
    cell_statistics,
    hole_bands,
    mask_statistics,
    measured_masks,
)

NVIDIA = NVIDIA_FIGURES  # (components, compactness) per (bin, category)
RELATIVE_TOLERANCE, RATIO_TOLERANCE = NVIDIA_TOLERANCE, 0.02


def cell_table(cells: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """cells: category, bin, count, mean_components, mean_boundary_per_sqrt_area, mean_hole_ratio."""
    rows = []
    for (bin_name, category), (components, compactness) in NVIDIA.items():
        ours = cells[(cells["bin"] == bin_name) & (cells["category"] == category)]
        if ours.empty:
            rows.append(dict(cell=f"{bin_name} {category}", n=0))
            continue
        ours = ours.iloc[0]
        rows.append(
            dict(
                cell=f"{bin_name} {category}",
                n=int(ours["count"]),
                components_nvidia=components,
                components=ours["mean_components"],
                compactness_nvidia=compactness,
                compactness=ours["mean_boundary_per_sqrt_area"],
                ratio_nvidia=NVIDIA_MEAN_RATIO[bin_name],
                ratio=ours["mean_hole_ratio"],
            )
        )
    table = pd.DataFrame(rows)
    within = ((table["components"] / table["components_nvidia"] - 1).abs() <= RELATIVE_TOLERANCE).sum() + (
        (table["compactness"] / table["compactness_nvidia"] - 1).abs() <= RELATIVE_TOLERANCE
    ).sum()
    ratio_ok = ((table["ratio"] - table["ratio_nvidia"]).abs() <= RATIO_TOLERANCE).sum()
    summary = f"{within} of 24 figures within 25 %, {ratio_ok} of 12 mean ratios within 0.02"
    return table, summary


def markdown(table: pd.DataFrame) -> str:
    lines = [
        "| cell | n | components: NVIDIA | ours | compactness: NVIDIA | ours | mean ratio: NVIDIA (N) | ours |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _, r in table.iterrows():
        if not r["n"]:
            lines.append(f"| {r['cell']} | 0 | | | | | | |")
            continue
        mark = lambda ours, theirs: "" if abs(ours / theirs - 1) <= RELATIVE_TOLERANCE else " *"  # noqa: E731
        ratio_mark = "" if abs(r["ratio"] - r["ratio_nvidia"]) <= RATIO_TOLERANCE else " *"
        lines.append(
            f"| {r['cell']} | {r['n']} | {r['components_nvidia']:.1f} | {r['components']:.1f}"
            f"{mark(r['components'], r['components_nvidia'])} | {r['compactness_nvidia']:.1f} | "
            f"{r['compactness']:.1f}{mark(r['compactness'], r['compactness_nvidia'])} | "
            f"{r['ratio_nvidia']:.3f} | {r['ratio']:.3f}{ratio_mark} |"
        )
    return "\n".join(lines) + "\n(* outside the tolerance)"


def training_cells(build: Path, count: int, seed: int = 0) -> pd.DataFrame:
    """Augmented masks of the raw training pool as training draws them, binned and measured."""
    rows = load_pool(build, "train")
    raw = [load_raw_mask(build, "train", r["raw_id"]) for r in rows]
    masks = AugmentedMasks(raw, seed=seed)
    measured = []
    for i in range(count):
        valid = masks[i]
        category, index, _ = classify(valid)
        if index is not None:
            measured.append(dict(category=category, bin=bin_label(index), **mask_statistics(valid)))
    frame = pd.DataFrame(measured)
    return (
        frame.groupby(["category", "bin"])
        .agg(
            count=("hole_ratio", "size"),
            mean_components=("components", "mean"),
            mean_boundary_per_sqrt_area=("boundary_per_sqrt_area", "mean"),
            mean_hole_ratio=("hole_ratio", "mean"),
        )
        .reset_index()
    )


def video_table(build: Path, measured: pd.DataFrame) -> pd.DataFrame:
    """Per cell and test video (`measured`: the build's `measured_masks`): masks, their share of the
    cell, mean components and compactness. With two test videos, also the shares of the first (by
    name) for which the cell's means, a blend of the two videos' means, would put both figures within
    the tolerance of NVIDIA's (steps of 0.01)."""
    test_dir = find_test_dir(build)
    measured = measured.copy()
    videos = {row["path"]: row["source_video"] for row in read_manifest(test_dir / "manifest.csv")}
    measured["video"] = measured["path"].map(videos).fillna("(not in the manifest)")
    names = sorted(measured["video"].unique())
    rows = []
    for (bin_name, category), nvidia in NVIDIA.items():
        cell = measured[(measured["bin"] == bin_name) & (measured["category"] == category)]
        means = cell.groupby("video")[["components", "boundary_per_sqrt_area"]].mean()
        for video in means.index:
            rows.append(
                dict(
                    cell=f"{bin_name} {category}",
                    video=video,
                    n=int((cell["video"] == video).sum()),
                    share=float((cell["video"] == video).mean()),
                    components=means.loc[video, "components"],
                    compactness=means.loc[video, "boundary_per_sqrt_area"],
                    matching_shares=_matching_shares(means, names, nvidia) if video == means.index[0] else "",
                )
            )
    return pd.DataFrame(rows)


def _matching_shares(means: pd.DataFrame, names: list, nvidia: tuple) -> str:
    if len(names) != 2 or len(means) != 2:
        return "-"
    shares = np.linspace(0.0, 1.0, 101)
    first, second = means.loc[names[0]].to_numpy(), means.loc[names[1]].to_numpy()
    blend = shares[:, None] * first + (1 - shares[:, None]) * second
    fits = (np.abs(blend / np.asarray(nvidia) - 1) <= RELATIVE_TOLERANCE).all(axis=1)
    if not fits.any():
        return "none"
    return f"{shares[fits].min():.2f}-{shares[fits].max():.2f}"


def reference_tiles(path: Path) -> list[tuple[str, str, np.ndarray]]:
    """(bin, category, valid) of each mask in a picture laid out as ../shared/reference's: six rows of
    tiles, one per bin, three N tiles then three B tiles, framed by grey lines; white = valid."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise SystemExit(f"Error: cannot read {path} as a picture")
    grey = (image > 100) & (image < 160)

    def runs(lines: np.ndarray) -> list[tuple[int, int]]:  # stretches between grey lines, tile-sized
        edges = np.flatnonzero(np.diff(np.r_[1, lines.astype(np.int8), 1]))
        return [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a >= 64]

    rows, columns = runs(grey.mean(axis=1) > 0.5), runs(grey.mean(axis=0) > 0.5)
    if len(rows) != len(BINS) or len(columns) != 6:
        raise SystemExit(f"Error: {path} is not laid out as 6 rows of 6 mask tiles ({len(rows)} x {len(columns)})")
    return [
        (bin_label(b), "N" if c < 3 else "B", (image[y0:y1, x0:x1] >= 128).astype(np.uint8))
        for b, (y0, y1) in enumerate(rows)
        for c, (x0, x1) in enumerate(columns)
    ]


def reference_bands(reference: Path) -> tuple[int, list[dict]]:
    """The reference picture's tile size, and the band width and centre line (512-px units) of each
    of its masks."""
    tiles = reference_tiles(reference)
    tile = tiles[0][2].shape[0]
    rows = [dict(who="NVIDIA", bin=b, category=c, **_bands(valid, 512 / tile)) for b, c, valid in tiles]
    return tile, rows


def band_table(reference: tuple[int, list[dict]], build: Path, per_cell: int = 40) -> pd.DataFrame:
    """`reference_bands` beside the same figures of the build's masks, scaled to the picture's tile
    size first, as the picture's were."""
    tile, measured = reference[0], list(reference[1])
    test_dir = find_test_dir(build)
    hole_white = manifest_polarity(test_dir)
    manifest = pd.read_csv(test_dir / "manifest.csv")
    for (bin_name, category), cell in manifest.groupby(["bin", "category"]):
        for relative in cell["path"][:per_cell]:
            valid = read_mask(test_dir / relative, hole_white)
            small = (cv2.resize(valid * 255, (tile, tile), interpolation=cv2.INTER_AREA) >= 128).astype(np.uint8)
            measured.append(dict(who=build.name, bin=bin_name, category=category, **_bands(small, 512 / tile)))
    table = pd.DataFrame(measured).groupby(["bin", "category", "who"]).mean().unstack("who")
    return table.round(0)


def _bands(valid: np.ndarray, scale: float) -> dict:
    width, centre_line = hole_bands((valid == 0).astype(np.uint8))
    return dict(band_width=width * scale, centre_line=centre_line * scale)


def picture(tables: dict, path):
    """Components, compactness and mean ratio per cell for each build, NVIDIA's as black marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = (("components", "components"), ("compactness", "compactness"), ("ratio", "mean hole ratio"))
    figure, axes = plt.subplots(2, 3, figsize=(15, 7))
    for row, category in enumerate(("N", "B")):
        for column, (name, title) in enumerate(columns):
            axis = axes[row, column]
            width = 0.8 / len(tables)
            for k, (label, table) in enumerate(tables.items()):
                cells = table[table["cell"].str.endswith(category)]
                axis.bar([i + k * width for i in range(len(cells))], cells[name], width, label=label)
            cells = next(iter(tables.values()))
            cells = cells[cells["cell"].str.endswith(category)]
            centres = [i + 0.4 - width / 2 for i in range(len(cells))]
            axis.plot(centres, cells[f"{name}_nvidia"], "k_", markersize=22, mew=2.5, label="NVIDIA")
            axis.set_xticks(centres, [c.split()[0] for c in cells["cell"]], fontsize=7)
            axis.set_title(f"{title}, {category}", fontsize=9)
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=80)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("builds", nargs="+", type=Path, help="maskgen build folders")
    parser.add_argument("--train", type=int, default=0, help="also measure this many augmented training masks")
    parser.add_argument("--picture", type=Path, help="a PNG of the test sets' figures beside NVIDIA's")
    parser.add_argument("--reference-picture", type=Path, help="a picture of NVIDIA's masks (../shared/reference)")
    parser.add_argument("--by-video", action="store_true", help="each test video's masks per cell")
    args = parser.parse_args()
    tables = {}
    reference = reference_bands(args.reference_picture) if args.reference_picture else None
    for build in args.builds:
        if find_test_dir(build) is None:  # a build still running, or one that failed, has no manifest
            raise SystemExit(f"Error: {build} holds no finished test set (test/manifest.csv)")
        measured = measured_masks(build)
        table, summary = cell_table(cell_statistics(measured))
        tables[build.name] = table
        print(f"## {build.name}: test set\n\n{markdown(table)}\n\n{summary}\n")
        if args.train:
            table, summary = cell_table(training_cells(build, args.train))
            print(f"## {build.name}: {args.train} augmented training masks\n\n{markdown(table)}\n\n{summary}\n")
        if args.reference_picture:
            print(f"## {build.name}: band width and centre line (px at 512) against the reference picture\n")
            print(band_table(reference, build).to_string(), "\n")
        if args.by_video:
            print(f"## {build.name}: test masks by source video\n")
            print(video_table(build, measured).to_string(index=False, float_format="%.2f"), "\n")

    if args.picture:
        picture(tables, args.picture)


if __name__ == "__main__":
    main()

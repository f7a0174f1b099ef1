"""Looking at mask folders: classify, statistics, contact sheets, and NVIDIA's released masks."""

import hashlib
from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError
from pconvkit.files import (
    encode_png,
    list_images,
    mask_to_png,
    read_mask,
    write_bytes_atomic,
)
from pconvkit.maskgen.bins import BINS, BORDER_MARGIN, CATEGORIES, bin_label, border_distance, classify
from pconvkit.maskgen.manifest import write_manifest


def classify_folder(
    folder, hole_white: bool = False, margin: int = BORDER_MARGIN, threshold: float | None = None
) -> list[dict]:
    """Category, bin and hole ratio of every mask in a folder, re-measured from the pixels."""
    rows = []
    for path in list_images(folder):
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
    """Hole ratio, number of connected hole components, boundary length per sqrt(hole area)."""
    holes = (valid == 0).astype(np.uint8)
    count, _ = cv2.connectedComponents(holes, connectivity=8)
    contours, _ = cv2.findContours(holes, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    boundary = sum(cv2.arcLength(c, True) for c in contours)
    area = int(holes.sum())
    return dict(
        hole_ratio=area / holes.size,
        components=count - 1,
        boundary_per_sqrt_area=boundary / np.sqrt(area) if area else 0.0,
    )


def folder_statistics(folder, hole_white: bool = False, margin: int = BORDER_MARGIN):
    """Per (category, bin) counts and mean statistics, as a pandas DataFrame."""
    import pandas as pd

    rows = []
    for row in classify_folder(folder, hole_white, margin):
        rows.append({**row, **mask_statistics(read_mask(Path(folder) / row["path"], hole_white))})
    frame = pd.DataFrame(rows)
    return (
        frame.groupby(["category", "bin"])
        .agg(
            count=("path", "size"),
            mean_hole_ratio=("hole_ratio", "mean"),
            mean_components=("components", "mean"),
            boundary_per_sqrt_area=("boundary_per_sqrt_area", "mean"),
        )
        .reset_index()
    )


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
    out_dir = Path(out_dir)
    rows = []
    for path in list_images(source):
        valid = read_mask(path, hole_white=True)
        category, index, ratio = classify(valid, margin)
        label = bin_label(index) if index is not None else "outside"
        relative = f"{category}/{label}/{path.stem}.png"
        png = encode_png(mask_to_png(valid, hole_white_out))
        write_bytes_atomic(out_dir / "test" / relative, png)
        rows.append(
            dict(
                id=path.stem,
                split="test",
                category=category,
                bin=label,
                hole_ratio=f"{ratio:.6f}",
                border_distance=border_distance(valid),
                source_video="nvidia",
                size=valid.shape[0],
                margin=margin,
                sha256=hashlib.sha256(png).hexdigest(),
                path=relative,
            )
        )
    return write_manifest(out_dir / "test", rows)

"""A comparison picture like the paper's Fig. 5: input with hole, each method, ground truth."""

import cv2
import numpy as np

from pconvkit.benchmark.data import MaskEntry, read_pair
from pconvkit.benchmark.methods import fill, make_method
from pconvkit.benchmark.results import read_pairing
from pconvkit.errors import UserError
from pconvkit.files import encode_image, write_bytes_atomic
from pconvkit.images import show_holes, to_uint8


def grid_pairs(results, mask_ids=None) -> list[tuple[MaskEntry, str]]:
    """(mask, image name) pairs of a run's pairing.csv: the given mask ids, or one B mask per bin."""
    pairs = read_pairing(results)
    if mask_ids:
        wanted = set(mask_ids)
        pairs = [(mask, image) for mask, image in pairs if mask.mask_id in wanted]
    else:
        pairs = list({mask.bin: (mask, image) for mask, image in pairs if mask.category == "B"}.values())
    if not pairs:
        raise UserError("no pair of the run matches --mask-ids")
    return pairs


def comparison_grid(pairs, images: dict, methods, out_path, method_options=None, thumb: int = 256):
    """Write a picture (format from `out_path`'s suffix): one row per (mask, image name) pair,
    columns input | methods... | ground truth."""
    instances = {m: make_method(m, **(method_options or {}).get(m, {})) for m in methods}
    header = ["input"] + list(methods) + ["ground truth"]
    rows = [_label_row(header, thumb)]
    for mask, image_name in pairs:
        image = images[image_name]
        valid = read_pair(mask, image)
        tiles = [show_holes(image, valid)] + [fill(instances[m], image, valid) for m in methods] + [image]
        rows.append(np.hstack([cv2.resize(to_uint8(t), (thumb, thumb), interpolation=cv2.INTER_AREA) for t in tiles]))
    picture = cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR)
    write_bytes_atomic(out_path, encode_image(out_path, picture))
    return out_path


def _label_row(labels, thumb):
    row = np.full((28, thumb * len(labels), 3), 255, np.uint8)
    for i, text in enumerate(labels):
        cv2.putText(row, text, (i * thumb + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return row

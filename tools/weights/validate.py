"""Choose between trained PConv checkpoints without looking at the held-out photos (MODEL_CARD.md):
each checkpoint goes through the benchmark's own harness (`benchmark.run.run_benchmark`, so the same
dealing of images to masks, compositing and l1) on the demo's test masks and the sample photos that
are in neither split (`pconvkit.sampledata.VALIDATION_PHOTOS`). Run after `make demo`:

    .venv/bin/python tools/weights/validate.py CHECKPOINT [CHECKPOINT ...]   # masks: demo/masks
    MASKS=other/masks .venv/bin/python tools/weights/validate.py ...

On the CPU, about 2 minutes per checkpoint of the bundled size for the demo's 300 masks.
"""

import os
import sys
import tempfile

import pandas as pd

from pconvkit import sampledata
from pconvkit.benchmark.data import load_images, load_masks
from pconvkit.benchmark.run import run_benchmark
from pconvkit.errors import UserError


def main(checkpoints, masks):
    sampledata.require_sample_data()
    images = load_images(sampledata.write_photos("validation", sampledata.VALIDATION_PHOTOS))
    masks = load_masks(masks)
    summary = []
    for checkpoint in checkpoints:
        with tempfile.TemporaryDirectory() as out:
            results = pd.read_csv(
                run_benchmark(
                    ["pconv"],
                    images,
                    masks,
                    out,
                    log=lambda *_: None,
                    method_options={"pconv": {"checkpoint": checkpoint}},
                )
            )
        summary.append(
            f"{checkpoint}: all bins {results.l1.mean():.4f}, "
            f"bins above 0.2 {results.l1[results.bin >= '0.2'].mean():.4f}"
        )
    print(f"mean l1 (%) over {len(masks)} masks on {len(images)} validation photos")
    print("\n".join(summary))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    try:
        main(sys.argv[1:], os.environ.get("MASKS", "demo/masks"))
    except UserError as err:
        sys.exit(f"Error: {err}")

"""Choose between trained PConv (or Conv) checkpoints without looking at the held-out photos (MODEL_CARD.md):
each checkpoint goes through the benchmark's own harness (`benchmark.run.run_benchmark`, so the same
dealing of images to masks, compositing and l1) on the demo's test masks and the sample photos that
are in neither split (`pconvkit.sampledata.VALIDATION_PHOTOS`). Run after `make demo`:

    .venv/bin/python tools/weights/validate.py CHECKPOINT [CHECKPOINT ...]   # masks: demo/masks
    MASKS=other/masks .venv/bin/python tools/weights/validate.py ...
    .venv/bin/python tools/weights/validate.py --sr SR_CHECKPOINT [...]     # super-resolution x4

On the CPU, about 2 minutes per checkpoint of the bundled size for the demo's 300 masks. For
inpainting it prints the mean l1 over all bins, over the bins above 0.2 and in the smallest bin
(0.01-0.1); for super-resolution the mean RGB and Y PSNR from the lattice input, beside bicubic's.
"""

import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from pconvkit import sampledata
from pconvkit.benchmark.data import load_images, load_masks
from pconvkit.benchmark.run import run_benchmark
from pconvkit.benchmark.superres import run_sr_benchmark
from pconvkit.errors import UserError
from pconvkit.models.checkpoint import read_checkpoint


def main(checkpoints, masks):
    sampledata.require_sample_data()
    images = load_images(sampledata.write_photos("validation", sampledata.VALIDATION_PHOTOS))
    masks = load_masks(masks)
    summary = []
    for checkpoint in checkpoints:
        method = "pconv" if read_checkpoint(checkpoint)["unet"]["partial"] else "conv"  # the Conv baseline's too
        with tempfile.TemporaryDirectory() as out:
            results = pd.read_csv(
                run_benchmark(
                    [method],
                    images,
                    masks,
                    out,
                    log=lambda *_: None,
                    method_options={method: {"checkpoint": checkpoint}},
                )
            )
        summary.append(
            f"{checkpoint}: all bins {results.l1.mean():.4f}, "
            f"bins above 0.2 {results.l1[results.bin >= '0.2'].mean():.4f}, "
            f"smallest bin {results.l1[results.bin == '0.01-0.1'].mean():.4f}"
        )
    print(f"mean l1 (%) over {len(masks)} masks on {len(images)} validation photos")
    print("\n".join(summary))


def main_sr(checkpoints, factor: int = 4):
    sampledata.require_sample_data()
    images = load_images(sampledata.write_photos("validation", sampledata.VALIDATION_PHOTOS))
    print(f"super-resolution x{factor} from the lattice on {len(images)} validation photos: mean PSNR RGB / Y (dB)")
    for checkpoint in checkpoints:
        with tempfile.TemporaryDirectory() as out:
            run_sr_benchmark(["pconv", "bicubic"], images, factor, out, checkpoint, log=lambda *_: None)
            frame = pd.read_csv(Path(out) / "sr_results.csv")
        lattice = frame[frame["input"] == "lattice"].groupby("method")[["psnr_rgb", "psnr_y"]].mean()
        print(
            f"{checkpoint}: {lattice.loc['pconv', 'psnr_rgb']:.3f} / {lattice.loc['pconv', 'psnr_y']:.3f}; "
            f"bicubic {lattice.loc['bicubic', 'psnr_rgb']:.3f} / {lattice.loc['bicubic', 'psnr_y']:.3f}"
        )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    try:
        if sys.argv[1] == "--sr":
            main_sr(sys.argv[2:])
        else:
            main(sys.argv[1:], os.environ.get("MASKS", "demo/masks"))
    except UserError as err:
        sys.exit(f"Error: {err}")

"""Where a training step's time goes, for the bundled configuration (256-px crops, batch 32, 7 layers at
half width, scale jitter 3, colour jitter 0.5, loss L1 + TV): making a batch on the CPU (one
process; `--workers N` runs N of them side by side), making it on the device
(models/device_data.py), and the network's step (forward, loss, backward, Adam; mixed precision on
a GPU). Prints crops per second for each, measured side by side in one run.

    python benchmarks/bench_training.py --masks MASKS [--device cuda] [--batches 20]

MASKS: a `maskgen build` folder with a raw training pool (`make demo` leaves demo/masks). The photos
are the sample training photos (`benchmark data fetch`).
"""

import argparse
import time

import torch

from pconvkit import sampledata
from pconvkit.models.config import TrainConfig, UNetConfig
from pconvkit.models.device_data import DeviceBatches
from pconvkit.models.devices import pick_device
from pconvkit.models.loss import InpaintingLoss, LossWeights
from pconvkit.models.train import TrainingData, training_step
from pconvkit.models.unet import PConvUNet


def timed(function, repeats: int, device) -> float:
    """Seconds per call, after one warm-up call."""
    function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--masks", required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    device = pick_device(args.device)
    config = TrainConfig(
        images=str(sampledata.photos_dir("train")),
        masks=args.masks,
        out="unused",
        size=256,
        batch_size=args.batch_size,
        scale_jitter=3.0,
        color_jitter=0.5,
        unet=UNetConfig(layers=7, width=0.5).as_dict(),
    )
    data = TrainingData(config)
    on_device = DeviceBatches(
        data.images, data.raw_masks, config.size, device, config.scale_jitter, config.color_jitter
    )
    model = PConvUNet(UNetConfig(**config.unet)).to(device).train()
    criterion = InpaintingLoss(None, LossWeights(**config.loss_weights))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    images, masks = on_device.batch(0, 0, config.batch_size)

    def step():
        training_step(model, criterion, optimizer, scaler, images, masks, amp)

    counter = iter(range(10**9))
    cpu = timed(lambda: data.batch(0, next(counter), config.batch_size), args.batches, torch.device("cpu"))
    gpu = timed(lambda: on_device.batch(0, next(counter), config.batch_size), args.batches, device)
    network = timed(step, args.batches, device)
    crops = config.batch_size
    print(f"device: {device}; {len(data.images)} photos, {len(data.raw_masks)} raw masks, batch {crops} x 256 px")
    print(f"batch on the CPU (one process):   {cpu * 1e3:8.1f} ms  {crops / cpu:8.0f} crops/s")
    print(f"batch on the device:              {gpu * 1e3:8.1f} ms  {crops / gpu:8.0f} crops/s  ({cpu / gpu:.1f}x)")
    print(f"training step (L1 + TV):          {network * 1e3:8.1f} ms  {crops / network:8.0f} crops/s")
    print(
        f"training with the device pipeline: {crops / (gpu + network):.0f} crops/s; with N CPU processes at most "
        f"min(N x {crops / cpu:.0f}, {crops / network:.0f}) crops/s"
    )


if __name__ == "__main__":
    main()

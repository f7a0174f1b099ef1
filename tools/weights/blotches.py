"""Dark blotches in plain skies: the bundled network's mean signed error in small holes on smooth
regions, and a measurement for each suspect cause.

    .venv/bin/python tools/weights/blotches.py [--checkpoint FILE]

Scenes: a synthetic sky (a vertical blue gradient, 512 x 512) and the top 160 rows of two held-out
photos with open sky (Bridge_by_Sander_Klootwijk, Kite), each with small square holes of side 4, 8,
16 and 32 px on a grid. Reported per channel, in 1/255: the mean signed error of the fill over the
hole pixels (target: within 2/255 of the surroundings, which the composite copies exactly).

Suspects, each measured on the same scenes:
- BatchNorm statistics: the running statistics of training against the statistics of the image
  itself (BatchNorm layers in training mode for a batch of one; no weight changes);
- weight precision: the shipped fp16 weights rounded further to bfloat16 (8 bits of mantissa
  against fp16's 11): a cause would show as a change of the same order as the error;
- the renormalisation next to tiny holes: the error by hole size (the first layers' sum(1)/sum(M)
  is largest where a window barely touches the valid region);
- colour jitter: whether the error is a brightness offset (all channels one sign) or a hue shift;
- compositing: the network's raw output on the valid pixels around the holes (the composite
  discards it; an offset there that the holes share would be the network's, not the composite's);
- the partial convolution's renormalisation: run it again with `--checkpoint models/weights/conv.pt`,
  the same network with plain convolutions, which has none.
"""

import argparse

import cv2
import numpy as np
import torch

from pconvkit import sampledata
from pconvkit.models.checkpoint import load_model
from pconvkit.models.preprocess import pad_to_stride

HOLE_SIDES = (4, 8, 16, 32)


def synthetic_sky(size: int = 512) -> np.ndarray:
    top, bottom = np.array([0.25, 0.45, 0.85]), np.array([0.65, 0.8, 0.95])
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    return np.broadcast_to(top + (bottom - top) * t, (size, size, 3)).astype(np.float32).copy()


def photo_sky(name: str) -> np.ndarray | None:
    path = sampledata.photos_dir("test") / f"{name}.png"
    image = cv2.imread(str(path))
    if image is None:
        return None
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    side = min(image.shape[:2])
    image = cv2.resize(image[:side, :side], (512, 512), interpolation=cv2.INTER_AREA)
    return image[:160]


def holes_grid(shape, side: int) -> np.ndarray:
    """1 = valid; square holes of `side` px every 64 px."""
    valid = np.ones(shape[:2], np.float32)
    for y in range(32, shape[0] - side, 64):
        for x in range(32, shape[1] - side, 64):
            valid[y : y + side, x : x + side] = 0
    return valid


def raw_output(model, image, valid, batchnorm_from_image=False):
    padded, masks = pad_to_stride(image[None], valid[None], model.stride)
    if batchnorm_from_image:
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.train()
                module.momentum = 0.0  # use the batch statistics, keep the running ones untouched
    with torch.no_grad():
        output = model(torch.from_numpy(padded), torch.from_numpy(masks)).float().numpy()[0]
    model.eval()
    return output.transpose(1, 2, 0)[: image.shape[0], : image.shape[1]]


def signed_error(output, image, where) -> np.ndarray:
    return (output[where] - image[where]).mean(axis=0) * 255


def ring(valid, width: int = 3) -> np.ndarray:
    holes = (valid == 0).astype(np.uint8)
    grown = cv2.dilate(holes, np.ones((2 * width + 1,) * 2, np.uint8))
    return (grown == 1) & (holes == 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None)
    args = parser.parse_args()
    model, _ = load_model(args.checkpoint)
    model = model.float().eval()
    bf16 = load_model(args.checkpoint)[0].float().eval()
    with torch.no_grad():
        for parameter in bf16.parameters():
            parameter.copy_(parameter.to(torch.bfloat16).float())
    scenes = {"synthetic sky": synthetic_sky()}
    for name in ("Bridge_by_Sander_Klootwijk", "Kite"):
        sky = photo_sky(name)
        if sky is not None:
            scenes[f"{name} sky"] = sky
    fmt = lambda e: "(" + ", ".join(f"{v:+.1f}" for v in e) + ")"  # noqa: E731
    print("mean signed error (R, G, B) in 1/255 over the hole pixels; ring = valid pixels within 3 px")
    for scene, image in scenes.items():
        for side in HOLE_SIDES:
            valid = holes_grid(image.shape, side)
            holes = valid == 0
            as_shipped = raw_output(model, image, valid)
            own_statistics = raw_output(model, image, valid, batchnorm_from_image=True)
            bfloat = raw_output(bf16, image, valid)
            print(
                f"{scene:32} holes {side:2} px: shipped {fmt(signed_error(as_shipped, image, holes))}, "
                f"BatchNorm from the image {fmt(signed_error(own_statistics, image, holes))}, "
                f"bf16 weights {fmt(signed_error(bfloat, image, holes))}, "
                f"raw output on the ring {fmt(signed_error(as_shipped, image, ring(valid)))}"
            )


if __name__ == "__main__":
    main()

"""Blotches in plain skies: a network's mean signed error in small holes on smooth regions, by hole
size and by distance from the hole's edge, for one or more checkpoints side by side.

    .venv/bin/python tools/weights/blotches.py [CHECKPOINT ...] [--suspects]

Scenes: a synthetic sky (a vertical blue gradient, 512 x 512) and the top 160 rows of two held-out
photos with open sky (Bridge_by_Sander_Klootwijk, Kite), each with square holes of side 2, 4, 8,
16 and 32 px on a grid. Reported per channel, in 1/255: the mean signed error of the fill over the
hole pixels (target: within 2/255; the surroundings are copied exactly by the composite), and in
the 32-px holes the same by distance from the hole's edge: a network that never learnt small holes
is wrong at every distance of a small hole and right deep inside a large one; a structural fault
(the image skip masked in a hole's interior, the coarse features' nearest-neighbour upsampling)
would be wrong deep inside whatever it learnt.

`--sr` measures super-resolution checkpoints (default the bundled x4) on the same skies instead:
from the lattice, the output's mean signed error per channel (a colour cast) and its lattice
pattern, the spread over the 16 positions of the 4 x 4 lattice cell of the mean error at each
(0 for an output without a pattern; bicubic's, beside it, is the interpolation's own).

`--suspects` adds, for the first checkpoint, the measurements that ruled out other causes
(docs/results.md): the BatchNorm statistics (the image's own in place of the running ones), the
weight precision (the fp16 weights rounded further to bfloat16), and the raw output on the valid
ring the composite discards. The partial convolution's renormalisation is ruled out by passing
models/weights/conv.pt, the same network with plain convolutions, which has none.
"""

import argparse

import cv2
import numpy as np
import torch

from pconvkit import sampledata
from pconvkit.errors import UserError
from pconvkit.models.checkpoint import load_model
from pconvkit.models.preprocess import pad_to_stride

HOLE_SIDES = (2, 4, 8, 16, 32)
# distance bands from a hole's edge (Chebyshev, px: 1 = the hole's outermost ring) in the 32-px holes
DISTANCE_BANDS = ((1, 1), (2, 2), (3, 4), (5, 8), (9, 16))
TARGET = 2.0  # |mean signed error| per channel, in 1/255, for every hole size


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


def output_with_image_at_last_layer(model, image, valid):
    """The partial network's output with one change: its last layer's image skip holds the true pixels
    in the holes too (and counts them valid), every layer before it as usual. What this recovers of
    the fill's error is the share of the last layer's missing image taps (a masked pixel enters the
    normalised skip as 0, the ImageNet mean colour); what stays comes from the features."""
    padded, masks = pad_to_stride(image[None], valid[None], model.stride)
    image_t, mask = torch.from_numpy(padded), torch.from_numpy(masks)
    with torch.no_grad():
        x = (image_t - model.mean) / model.std
        features, feature_masks = [x], [mask]
        for stage in model.encoder:
            x, mask = stage(x, mask)
            features.append(x)
            feature_masks.append(mask)
        skips = list(zip(reversed(features[:-1]), reversed(feature_masks[:-1])))
        for index, (stage, (skip, skip_mask)) in enumerate(zip(model.decoder, skips)):
            if index == len(model.decoder) - 1:
                skip_mask = torch.ones_like(skip_mask)  # the true image, holes included
            up = torch.nn.functional.interpolate(x * mask, scale_factor=2, mode="nearest")
            count = torch.nn.functional.interpolate(mask * x.shape[1], scale_factor=2, mode="nearest")
            x, mask = stage(torch.cat([up, skip * skip_mask], dim=1), count + skip_mask * skip.shape[1], premasked=True)
        output = (x * model.std + model.mean).numpy()[0]
    return output.transpose(1, 2, 0)[: image.shape[0], : image.shape[1]]


def signed_error(output, image, where) -> np.ndarray:
    return (output[where] - image[where]).mean(axis=0) * 255


def ring(valid, width: int = 3) -> np.ndarray:
    holes = (valid == 0).astype(np.uint8)
    grown = cv2.dilate(holes, np.ones((2 * width + 1,) * 2, np.uint8))
    return (grown == 1) & (holes == 0)


def depth(valid) -> np.ndarray:
    """Chebyshev distance of each hole pixel to the nearest valid pixel (1 on a hole's edge)."""
    return cv2.distanceTransform((valid == 0).astype(np.uint8), cv2.DIST_C, 3)


def fmt(error) -> str:
    return "(" + ", ".join(f"{v:+5.1f}" for v in error) + ")"


def by_size(models, scenes):
    """Mean signed error (R, G, B) over the hole pixels, per checkpoint, scene and hole side."""
    print(f"mean signed error (R, G, B) in 1/255 over the hole pixels, holes every 64 px; target within +-{TARGET:g}")
    print("| checkpoint | scene | " + " | ".join(f"{side} px" for side in HOLE_SIDES) + " | all within target |")
    print("|---|---|" + "---|" * len(HOLE_SIDES) + "---|")
    for name, model in models.items():
        for scene, image in scenes.items():
            errors = []
            for side in HOLE_SIDES:
                valid = holes_grid(image.shape, side)
                errors.append(signed_error(raw_output(model, image, valid), image, valid == 0))
            within = all(np.abs(e).max() <= TARGET for e in errors)
            print(f"| {name} | {scene} | " + " | ".join(fmt(e) for e in errors) + f" | {'yes' if within else 'no'} |")


def by_distance(models, image, side: int = 32):
    """In holes of `side` px: the mean signed error (R, G, B) by distance from the hole's edge. A
    fill that is right at the edge and wrong inside points at what the network cannot see there (the
    image skip is masked, the coarse features upsampled); one wrong everywhere, at what it learnt."""
    valid = holes_grid(image.shape, side)
    distance = depth(valid)
    print(f"\nmean signed error (R, G, B) in 1/255 in {side}-px holes of the synthetic sky, by distance from the edge")
    print("| checkpoint | " + " | ".join(f"{a}-{b} px" if a != b else f"{a} px" for a, b in DISTANCE_BANDS) + " |")
    print("|---|" + "---|" * len(DISTANCE_BANDS))
    for name, model in models.items():
        output = raw_output(model, image, valid)
        cells = [fmt(signed_error(output, image, (distance >= a) & (distance <= b))) for a, b in DISTANCE_BANDS]
        print(f"| {name} | " + " | ".join(cells) + " |")


def last_layer(models, image):
    """The fill's error as measured, and with the last layer's image skip unmasked (the truth in the
    holes): the part that goes is the last layer's, the part that stays the features'."""
    print("\nmean signed error (R, G, B) in 1/255 on the synthetic sky: as is | the last layer given the true pixels")
    print("| checkpoint | " + " | ".join(f"{side} px" for side in HOLE_SIDES) + " |")
    print("|---|" + "---|" * len(HOLE_SIDES))
    for name, model in models.items():
        if not model.config.partial:
            continue
        cells = []
        for side in HOLE_SIDES:
            valid = holes_grid(image.shape, side)
            holes = valid == 0
            as_is = signed_error(raw_output(model, image, valid), image, holes)
            seeing = signed_error(output_with_image_at_last_layer(model, image, valid), image, holes)
            cells.append(f"{fmt(as_is)} \\| {fmt(seeing)}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def lattice_pattern(error: np.ndarray, factor: int) -> float:
    """The spread (standard deviation, over channels' mean) across the factor x factor positions of
    the lattice cell of the mean error at each position, in 1/255."""
    height, width = (error.shape[0] // factor) * factor, (error.shape[1] // factor) * factor
    cells = error[:height, :width].reshape(height // factor, factor, width // factor, factor, -1)
    return float(cells.mean(axis=(0, 2)).std(axis=(0, 1)).mean() * 255)


def super_resolution(checkpoints, scenes, factor: int = 4):
    from pconvkit.models.superres import interpolate, load_sr_model, sample_lattice, upscale

    print(f"x{factor} from the lattice: mean signed error (R, G, B) in 1/255 | lattice pattern in 1/255")
    print("| method | " + " | ".join(scenes) + " |")
    print("|---|" + "---|" * len(scenes))
    methods = {"bicubic": lambda low: interpolate(low, factor, "bicubic")}
    for checkpoint in checkpoints:
        model = load_sr_model(checkpoint, factor, "cpu")
        methods[checkpoint or "bundled sr4"] = lambda low, model=model: upscale(model, low, factor)
    for name, method in methods.items():
        cells = []
        for image in scenes.values():
            side = (min(image.shape[:2]) // factor) * factor
            truth = image[:side, : (image.shape[1] // factor) * factor]
            error = (method(sample_lattice(truth, factor)) - truth)[factor:-factor, factor:-factor]
            cells.append(f"{fmt(error.reshape(-1, 3).mean(axis=0) * 255)} \\| {lattice_pattern(error, factor):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def suspects(checkpoint, scenes):
    """The suspect causes of the first measurement (docs/results.md): BatchNorm statistics, weight
    precision, and the raw output on the valid ring the composite discards."""
    model = load_model(checkpoint)[0].float().eval()
    bf16 = load_model(checkpoint)[0].float().eval()
    with torch.no_grad():
        for parameter in bf16.parameters():
            parameter.copy_(parameter.to(torch.bfloat16).float())
    print("\nmean signed error (R, G, B) in 1/255 over the hole pixels; ring = valid pixels within 3 px")
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "checkpoints", nargs="*", default=[None], help="checkpoints to compare (default: the bundled PConv)"
    )
    parser.add_argument("--suspects", action="store_true", help="also the suspect causes, for the first checkpoint")
    parser.add_argument("--sr", action="store_true", help="super-resolution checkpoints instead (default: sr4.pt)")
    args = parser.parse_args()
    scenes = {"synthetic sky": synthetic_sky()}
    for name in ("Bridge_by_Sander_Klootwijk", "Kite"):
        sky = photo_sky(name)
        if sky is not None:
            scenes[f"{name} sky"] = sky
    if args.sr:
        super_resolution(args.checkpoints, scenes)
        return
    models = {name or "bundled pconv": load_model(name)[0].float().eval() for name in args.checkpoints}
    by_size(models, scenes)
    by_distance(models, scenes["synthetic sky"])
    last_layer(models, scenes["synthetic sky"])
    if args.suspects:
        suspects(args.checkpoints[0], scenes)


if __name__ == "__main__":
    try:
        main()
    except UserError as err:
        raise SystemExit(f"Error: {err}") from None

"""A checkpoint's network with other fill passes (`UNetConfig.skip_fill`, `input_fill`): the fills have
no weights, so the same weights run with them as they are. Writes a new checkpoint; the weights,
step and training record stay, and the change is recorded in its metadata.

    .venv/bin/python tools/weights/with_fill.py CHECKPOINT OUT [--input-fill N] [--skip-fill N]
"""

import argparse

from pconvkit.errors import UserError
from pconvkit.models.checkpoint import FILE_HASH, read_checkpoint, write_payload
from pconvkit.models.unet import PConvUNet, UNetConfig


def with_fill(checkpoint: str, out: str, **fills) -> dict:
    payload = read_checkpoint(checkpoint)
    payload.pop(FILE_HASH)
    changed = {name: passes for name, passes in fills.items() if passes is not None}
    unet = {**payload["unet"], **changed}
    PConvUNet(UNetConfig(**unet))  # refuses negative passes by name
    payload["unet"] = unet
    payload["metadata"] = {**payload.get("metadata", {}), "fills_changed": changed}
    write_payload(out, payload)
    return unet


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--input-fill", type=int)
    parser.add_argument("--skip-fill", type=int)
    args = parser.parse_args()
    print(with_fill(args.checkpoint, args.out, input_fill=args.input_fill, skip_fill=args.skip_fill))


if __name__ == "__main__":
    try:
        main()
    except (UserError, ValueError) as err:
        raise SystemExit(f"Error: {err}") from None

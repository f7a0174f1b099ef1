"""Import checkpoints of the widely used PyTorch port naoto0804/pytorch-inpainting-with-partial-conv.

Its network has 7 encoder layers (enc_1..enc_7) and 7 decoder layers (dec_7, applied first, down
to dec_1), trained at 256 px, with keys such as enc_1.conv.input_conv.weight, enc_k.bn.* and
dec_1.conv.input_conv.bias. Its layer divides by sum(M) instead of multiplying by sum(1)/sum(M),
so each weight is rescaled by 1 / (C_in k_h k_w) to give the same outputs under Eq. 1. The mask
convolutions (mask_conv.weight, all ones) carry nothing and are dropped.
"""

from pconvkit.errors import UserError
from pconvkit.files import load_torch_file
from pconvkit.models.checkpoint import save_checkpoint
from pconvkit.models.unet import PConvUNet, UNetConfig

NAOTO_LAYERS = 7


def convert_naoto0804(source, out, allow_partial: bool = False) -> list[str]:
    """Write a pconvkit checkpoint of `source`; returns the keys that could not be mapped.

    Every parameter of the network must be filled from the source and every source tensor used:
    otherwise the result would be a partly random network, and it is refused unless `allow_partial`.
    """
    payload = load_torch_file(source, "checkpoint")
    state = payload.get("model", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not any(k.startswith("enc_1.") for k in state):
        raise UserError(f"{source} does not look like a naoto0804 checkpoint (no enc_1.* keys)")
    model = PConvUNet(UNetConfig(layers=NAOTO_LAYERS))
    stages = {f"enc_{i + 1}": stage for i, stage in enumerate(model.encoder)}
    stages.update({f"dec_{NAOTO_LAYERS - i}": stage for i, stage in enumerate(model.decoder)})
    ours = model.state_dict()
    unmapped, filled = [], set()
    for key, value in state.items():
        prefix, _, rest = key.partition(".")
        stage = stages.get(prefix)
        target = None
        if stage is not None and rest == "conv.input_conv.weight":
            conv = stage.conv
            value = value / (conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1])
            target = f"{_stage_name(model, stage)}.conv.weight"
        elif stage is not None and rest == "conv.input_conv.bias":
            target = f"{_stage_name(model, stage)}.conv.bias"
        elif stage is not None and rest.startswith("bn."):
            target = f"{_stage_name(model, stage)}.batchnorm.{rest[3:]}"
        elif rest == "conv.mask_conv.weight":
            continue
        if target in ours and ours[target].shape == value.shape:
            ours[target] = value.to(ours[target].dtype)
            filled.add(target)
        else:
            unmapped.append(key)
    unfilled = sorted(k for k in ours if k not in filled and not k.endswith("num_batches_tracked"))
    if (unmapped or unfilled) and not allow_partial:
        parts = ([f"{len(unmapped)} source tensors unused (first {unmapped[0]})"] if unmapped else []) + (
            [f"{len(unfilled)} parameters left unfilled (first {unfilled[0]})"] if unfilled else []
        )
        raise UserError(
            f"{source} does not fill the network: {', '.join(parts)}; --allow-partial writes it anyway, partly random"
        )
    model.load_state_dict(ours)
    save_checkpoint(
        out,
        model,
        metadata={
            "converted_from": str(source),
            "source": "naoto0804/pytorch-inpainting-with-partial-conv",
            "unmapped": unmapped,
        },
    )
    return unmapped


def _stage_name(model, stage) -> str:
    for name, module in model.named_modules():
        if module is stage:
            return name
    raise KeyError(stage)

"""What a run used, kept in its run.json, and the checks by which every command that reads the run
(report, grid, study create, export-pairs, score) uses the same: its images folder (each photo
checked against the image hash its rows record) and its networks' checkpoints (each with the hash of
the bytes it was loaded from). A command given another folder or checkpoint than the run's is
refused, not drawn or scored with what happens to be at hand."""

from pathlib import Path

from pconvkit.benchmark.data import image_identity, load_images
from pconvkit.benchmark.results import read_pairing, read_results, read_run_settings, results_path
from pconvkit.errors import UserError
from pconvkit.files import file_hash
from pconvkit.images import read_mask

IMAGES_KEY, NETWORKS_KEY = "images_dir", "networks"


def run_inputs_record(out_dir, images_dir, instances: dict) -> dict:
    """The run.json entries of this run: its images folder and, for every network it loaded (added to
    those of earlier runs into the same folder), the checkpoint (None: the bundled one) and its hash."""
    networks = dict(read_run_settings(out_dir).get(NETWORKS_KEY, {}))
    for name, instance in instances.items():
        checkpoint = instance.checkpoint_path
        networks[name] = dict(
            checkpoint=None if checkpoint is None else str(Path(checkpoint).resolve()),
            weights_hash=instance.weights_hash,
        )
    record = {NETWORKS_KEY: networks}
    if images_dir is not None:
        record[IMAGES_KEY] = str(Path(images_dir).resolve())
    return record


def recorded_images_dir(out_dir) -> Path | None:
    folder = read_run_settings(out_dir).get(IMAGES_KEY)
    return Path(folder) if folder else None


def run_images(out_dir, images_dir=None, default=None) -> dict:
    """The run's images at its size: from `images_dir`, else the folder the run recorded, else
    `default()` (a run made before folders were recorded). Every photo the pairing uses must be there,
    with the pixels the run scored (the image hash of its rows)."""
    pairs = read_pairing(out_dir)
    if not pairs:
        raise UserError(f"{out_dir} has an empty pairing")
    recorded = recorded_images_dir(out_dir)
    folder = images_dir or recorded or (default() if default else None)
    if folder is None:
        raise UserError(f"{out_dir} does not record its images folder: give the run's --images")
    if not Path(folder).is_dir():
        where = "the folder the run recorded" if images_dir is None else "--images"
        raise UserError(f"{where}, {folder}, is not a folder: give the run's --images")
    first = pairs[0][0]
    images = load_images(folder, read_mask(first.path, first.hole_white, first.threshold).shape[0])
    needed = sorted({image for _, image in pairs})
    missing = [name for name in needed if name not in images]
    if missing:
        raise UserError(
            f"{len(missing)} of the run's {len(needed)} photos are not in {folder} (first: {missing[0]!r}): "
            f"give the run's --images{f' ({recorded})' if recorded else ''}"
        )
    path = results_path(out_dir)
    scored = {row["image"]: row["image_hash"] for row in read_results(path)} if path.exists() else {}
    for name, recorded_hash in scored.items():
        if name in images and image_identity(images[name]) != recorded_hash:
            raise UserError(
                f"the photo {name!r} in {folder} is not the one the run scored (its pixels differ): "
                f"give the run's own --images{f' ({recorded})' if recorded else ''}"
            )
    return images


def run_network_options(out_dir, options: dict) -> dict:
    """The networks' options for drawing a run's methods again: a checkpoint the user gives must be
    the one the run used (by hash); none given, the run's own (recorded) checkpoint is used."""
    recorded = read_run_settings(out_dir).get(NETWORKS_KEY, {})
    resolved = {}
    for name, settings in options.items():
        settings, run = dict(settings), recorded.get(name)
        if run is None:
            resolved[name] = settings
            continue
        given = settings.get("checkpoint")
        checkpoint = given if given is not None else run["checkpoint"]
        if checkpoint is not None and not Path(checkpoint).is_file():
            raise UserError(f"{name}: the run's checkpoint {checkpoint} is gone: give --checkpoint of the file it used")
        digest = file_hash(checkpoint) if checkpoint is not None else _bundled_hash(name)
        if digest != run["weights_hash"]:
            which = f"{checkpoint}" if checkpoint is not None else "the bundled model"
            raise UserError(
                f"{name}: {which} is not the network the run used (weights hash {digest}, the run's "
                f"{run['weights_hash']}{', ' + run['checkpoint'] if run['checkpoint'] else ', bundled'})"
            )
        resolved[name] = settings | dict(checkpoint=checkpoint)
    return resolved


def _bundled_hash(name: str) -> str:
    from pconvkit.models import BUNDLED_CONV_WEIGHTS, BUNDLED_WEIGHTS

    path = BUNDLED_CONV_WEIGHTS if name == "conv" else BUNDLED_WEIGHTS
    return file_hash(path) if path.is_file() else "no weights"

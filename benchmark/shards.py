"""Shards of one run: what each records, and their merge.

`benchmark run --shard I/N` writes OUT/results-shard-I-of-N.csv and, beside it, a record of what the
shard is of (`results.shard_record_path`): its index and count, the run's identity (every pair's
mask id, mask content hash, image name and image hash, in pairing order), how many pairs the shard
holds, and each method's fingerprint. `merge_shards` joins shards only when every record agrees and
every shard is complete: shards of another seed, of rebuilt masks, with other methods or an edited
plug-in, torn, empty or stray, are refused with what differs.
"""

import json
import shutil
from pathlib import Path

from pconvkit.benchmark.data import image_identity, mask_identity
from pconvkit.benchmark.results import (
    PAIRING_FILE,
    RESULT_FIELDS,
    RESULTS_FILE,
    SETTINGS_FILE,
    SHARD_NAME,
    VECTOR_KINDS,
    pairing_text,
    read_pairing,
    read_results,
    shard_files,
    shard_record_path,
)
from pconvkit.errors import UserError
from pconvkit.files import content_hash, csv_text, write_text_atomic

SHARD_RECORD_FORMAT = 1


def run_identity(pairs, images: dict) -> str:
    """What makes two shards parts of one run: every pair's mask (its id and content), its image
    (name and pixels) and their order."""
    image_hashes = {name: image_identity(images[name]) for name in {i for _, i in pairs}}
    return content_hash(*(f"{m.mask_id}/{mask_identity(m)}/{i}/{image_hashes[i]}" for m, i in pairs))


def write_shard_record(results_file, shard: tuple[int, int], run: str, pairs: int, method_ids: dict):
    """Record (or extend, for methods added by a later run of the same shard) a shard's record;
    a shard folder that holds shards of another run is refused before anything is written."""
    results_file = Path(results_file)
    for other in shard_files(results_file.parent):
        path = shard_record_path(other)
        if path.exists() and _read_record(path).get("run") != run:
            raise UserError(
                f"{results_file.parent} holds shards of another run ({other.name}: other images, masks or "
                "seed): give each run its own --out"
            )
    path = shard_record_path(results_file)
    methods = _read_record(path).get("methods", {}) if path.exists() else {}
    record = dict(
        format=SHARD_RECORD_FORMAT,
        shard=shard[0],
        of=shard[1],
        run=run,
        pairs=pairs,
        methods=methods | method_ids,
    )
    write_text_atomic(path, json.dumps(record, indent=1, sort_keys=True) + "\n")


def _read_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"{path} is damaged ({str(err).splitlines()[0][:80]}): run that shard again") from None
    if not isinstance(record, dict) or record.get("format") != SHARD_RECORD_FORMAT:
        raise UserError(f"{path} is not a shard record of this pconvkit: run that shard again")
    return record


def merge_shards(folders, out_dir) -> Path:
    """Join the shard files of one run, from one folder or several, into OUT/results.csv: the rows
    one unsharded run would have written, in its order (method by method, pairs in pairing order)."""
    out_dir = Path(out_dir)
    if (out_dir / RESULTS_FILE).exists():
        raise UserError(f"{out_dir} already has a results.csv: merge into another --out")
    shards, folder_of = {}, {}
    for folder in dict.fromkeys(map(Path, folders)):
        if not (folder / PAIRING_FILE).exists():
            raise UserError(f"no pairing.csv in {folder}: not a benchmark results folder")
        for path in shard_files(folder):
            index, count = map(int, SHARD_NAME.match(path.name).groups())
            if index in shards:
                raise UserError(f"shard {index} is there twice: {shards[index][1]} and {path}")
            record_path = shard_record_path(path)
            if not record_path.exists():
                raise UserError(
                    f"{path} has no record beside it ({record_path.name}): a stray copy, or a shard of pconvkit "
                    "0.3.0 or earlier; run that shard's command again (it computes nothing twice)"
                )
            shards[index] = (count, path, _read_record(record_path))
            folder_of[index] = folder
    if not shards:
        raise UserError(f"no results-shard-I-of-N.csv files in {', '.join(map(str, folders))}")
    counts = {count for count, _, _ in shards.values()}
    if len(counts) > 1:
        raise UserError(f"the shard files belong to runs of different shard counts ({sorted(counts)})")
    (count,) = counts
    missing = sorted(set(range(1, count + 1)) - set(shards))
    if missing:
        raise UserError(f"shard {missing[0]} of {count} is missing ({len(missing)} missing in all)")
    first = shards[min(shards)][2]
    for index, (_, path, record) in sorted(shards.items()):
        if (record["shard"], record["of"]) != (index, count):
            raise UserError(f"{path} records shard {record['shard']} of {record['of']}: a renamed file")
        if record["run"] != first["run"]:
            raise UserError(
                "the shard folders hold different pairings (other images, masks or seed): not one run "
                f"(shard {index} differs from shard {min(shards)})"
            )
        if record["methods"] != first["methods"]:
            raise UserError(f"shard {index} ran {_describe(record['methods'], first['methods'])}: not one run")
    pairs = read_pairing(folder_of[min(shards)])
    rows = _checked_rows(shards, first["methods"], pairs, count)
    pairing = pairing_text(pairs, out_dir)  # mask paths made relative to OUT, wherever it is
    for folder in dict.fromkeys(folder_of.values()):  # every output's network vectors, of every kind saved
        for kind in VECTOR_KINDS:
            if (folder / kind).is_dir() and folder.resolve() != out_dir.resolve():
                shutil.copytree(folder / kind, out_dir / kind, dirs_exist_ok=True)
    write_text_atomic(out_dir / PAIRING_FILE, pairing)
    settings = folder_of[min(shards)] / SETTINGS_FILE  # the same in every shard, as the pairing
    if settings.exists() and settings.resolve() != (out_dir / SETTINGS_FILE).resolve():
        write_text_atomic(out_dir / SETTINGS_FILE, settings.read_text())
    write_text_atomic(out_dir / RESULTS_FILE, csv_text(rows, RESULT_FIELDS))
    return out_dir / RESULTS_FILE


def _describe(methods: dict, reference: dict) -> str:
    """How a shard's methods differ from the first shard's: other names, or other fingerprints."""
    if set(methods) != set(reference):
        return f"{', '.join(sorted(methods)) or 'no method'} where the first ran {', '.join(sorted(reference))}"
    changed = sorted(m for m in methods if methods[m] != reference[m])
    return f"another {changed[0]} (another version, options, weights or plug-in source)"


def _checked_rows(shards, methods: dict, pairs, count: int) -> list[dict]:
    """Every shard's rows, each shard complete: one row per method and pair of its slice of the
    pairing, each with the method's recorded fingerprint; in one unsharded run's order."""
    order = {mask.mask_id: i for i, (mask, _) in enumerate(pairs)}
    rows = []
    for index, (_, path, record) in sorted(shards.items()):
        expected = {mask.mask_id for mask, _ in pairs[index - 1 :: count]}
        shard_rows = read_results(path)
        keys = {(row["method"], row["mask"]) for row in shard_rows}
        foreign = [row for row in shard_rows if row["mask"] not in expected or methods.get(row["method"]) is None]
        if foreign or len(keys) != len(shard_rows):
            row = foreign[0] if foreign else shard_rows[0]
            raise UserError(
                f"{path}: {row['method']} on mask {row['mask']} does not belong in shard {index} of {count}"
            )
        wrong = [row for row in shard_rows if row["method_id"] != methods[row["method"]]]
        if wrong:
            raise UserError(f"{path}: the rows of {wrong[0]['method']} were made by another version of it")
        if len(expected) != record["pairs"] or len(shard_rows) != len(expected) * len(methods):
            raise UserError(
                f"{path} holds {len(shard_rows)} of its {len(expected) * len(methods)} rows: an interrupted or "
                "torn shard; run its command again to complete it"
            )
        rows += shard_rows
    ranks = {}  # methods in the order the runs wrote them
    for row in rows:
        ranks.setdefault(row["method"], len(ranks))
    rows.sort(key=lambda row: (ranks[row["method"]], order[row["mask"]]))
    return rows

"""The run folder (`benchmark.results`): a run spread over shards, each its own process and results
file, merges into the rows and metric vectors of the unsharded run, and a missing, duplicated or
foreign shard is refused; files written by earlier versions are read (migrated in memory) or refused
with the version that wrote them and the command that upgrades them; a method's fingerprint follows
the version of its outputs, not pconvkit's."""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import box_masks, gradient_photos, one_error_line, run_arguments, valid_mask
from hypothesis import given, settings
from hypothesis import strategies as st

import pconvkit
from pconvkit.benchmark import methods
from pconvkit.benchmark.results import (
    RESULT_FIELDS,
    RESULT_FORMATS,
    RESULTS_FORMAT,
    read_results,
    read_run_settings,
)
from pconvkit.cli import benchmark
from pconvkit.errors import UserError
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png

runner = CliRunner()


@pytest.fixture
def run_folder(tmp_path):
    gradient_photos(tmp_path / "images")
    box_masks(tmp_path / "masks", [(10, 20, 10, 30), (30, 50, 5, 40), (0, 12, 0, 64)])
    result = runner.invoke(benchmark, run_arguments(tmp_path, "mean,telea"))
    assert result.exit_code == 0, result.output
    return tmp_path / "out"


def rewrite_in_format(path, version):
    """The same rows as an earlier pconvkit wrote them: only that format's columns."""
    rows = list(csv.DictReader(open(path, newline="")))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, RESULT_FORMATS[version], extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize("version", [1, 2])
def test_an_earlier_results_file_is_read_and_upgraded(run_folder, version):
    table = runner.invoke(benchmark, ["table", str(run_folder), "--format", "csv"]).output
    current = read_results(run_folder / "results.csv")
    rewrite_in_format(run_folder / "results.csv", version)
    old = read_results(run_folder / "results.csv")
    assert [row["l1"] for row in old] == [row["l1"] for row in current]
    assert all(row["lpips"] == "nan" for row in old)
    assert ("l1_hole" in RESULT_FORMATS[version]) == all(row["l1_hole"] != "nan" for row in old)
    l1_lines = [line for line in table.splitlines() if line.startswith("l1 (%),")]
    migrated = runner.invoke(benchmark, ["table", str(run_folder), "--format", "csv"]).output
    assert l1_lines and all(line in migrated.splitlines() for line in l1_lines)  # the same numbers

    arguments = run_arguments(run_folder.parent, "mean,telea")
    refused = runner.invoke(benchmark, arguments)
    assert refused.exit_code == 1 and f"results format {version}" in refused.output
    assert f"benchmark upgrade {run_folder}" in refused.output
    upgraded = runner.invoke(benchmark, ["upgrade", str(run_folder)])
    assert upgraded.exit_code == 0 and f"format {version} -> {RESULTS_FORMAT}" in upgraded.output
    before = (run_folder / "results.csv").read_bytes()
    again = runner.invoke(benchmark, arguments)
    assert again.exit_code == 0, again.output
    assert (run_folder / "results.csv").read_bytes() == before  # every row kept its identity: nothing redone


def test_a_file_without_hashes_or_of_unknown_columns_is_refused_by_name(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text(",".join(RESULT_FORMATS[0]) + "\n")
    with pytest.raises(UserError, match="results format 0"):
        read_results(path)
    path.write_text(",".join((*RESULT_FORMATS[RESULTS_FORMAT], "fid_local")) + "\n")
    with pytest.raises(UserError, match="newer pconvkit"):
        read_results(path)
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="not a benchmark results file"):
        read_results(path)


def test_the_run_records_its_results_format(run_folder):
    assert read_run_settings(run_folder)["results_format"] == RESULTS_FORMAT


def test_a_fingerprint_follows_the_methods_output_version_not_the_package_version(monkeypatch):
    telea = methods.method_fingerprint("telea")
    monkeypatch.setattr(pconvkit, "__version__", "99.0")
    assert methods.method_fingerprint("telea") == telea
    monkeypatch.setattr(methods.METHODS["telea"], "output_version", "0.2.1")
    assert methods.method_fingerprint("telea") != telea
    plugin = methods.method_fingerprint("numpy:median")
    monkeypatch.setattr(methods, "PLUGIN_INTERFACE_VERSION", "9")
    assert methods.method_fingerprint("numpy:median") != plugin


def test_the_fingerprints_of_rows_already_written_are_kept():
    # The hash the built-in methods' rows carried when their version was pconvkit's 0.2.0: a change
    # of the fingerprint's recipe would make every results folder written before refuse to resume.
    from pconvkit.files import content_hash

    # (mean and patchmatch never changed output; telea, ns and biharmonic did in 0.3.0, and say so)
    assert methods.method_fingerprint("mean") == content_hash("mean", "0.2.0", [])
    assert methods.method_fingerprint("patchmatch", patch_size=5) == content_hash(
        "patchmatch", "0.2.0", [("patch_size", "5")]
    )
    for changed in ("telea", "ns", "biharmonic"):
        assert methods.method_fingerprint(changed) == content_hash(changed, "0.3.0", [])


def test_a_row_torn_inside_its_last_field_is_computed_again_not_lost(tmp_path):
    rng = np.random.default_rng(4)
    for i in range(3):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    args = run_arguments(tmp_path, "mean", "r")
    assert runner.invoke(benchmark, args).exit_code == 0
    results = tmp_path / "r" / "results.csv"
    whole = results.read_bytes()
    results.write_bytes(whole[:-3])  # 'cpu\n' torn to 'c': the row looks complete but for its last field
    assert runner.invoke(benchmark, args).exit_code == 0

    def without_seconds(text):
        header = text.splitlines()[0].split(",")
        return [[v for k, v in zip(header, line.split(",")) if k != "seconds"] for line in text.splitlines()]

    # the torn row was dropped and computed again, once (its time differs, nothing else)
    assert without_seconds(results.read_text()) == without_seconds(whole.decode())


def test_rows_of_other_masks_under_the_same_ids_are_refused_not_reused(tmp_path):
    rng = np.random.default_rng(5)
    write_image(tmp_path / "images" / "a.png", rng.random((64, 64, 3)))
    for i in range(3):
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    assert runner.invoke(benchmark, run_arguments(tmp_path)).exit_code == 0
    before = (tmp_path / "out" / "results.csv").read_bytes()
    other = valid_mask()
    other[30:50, 30:50] = 0  # the same file name, other holes (a rebuild with another seed)
    write_png_atomic(tmp_path / "masks" / "1.png", mask_to_png(other))
    line = one_error_line(runner.invoke(benchmark, run_arguments(tmp_path)))
    assert "mask hash" in line and "new --out" in line
    assert (tmp_path / "out" / "results.csv").read_bytes() == before
    from pconvkit.benchmark.data import MaskEntry, mask_identity

    read_as = [MaskEntry("1", tmp_path / "masks" / "1.png", "N", "0.1-0.2", white) for white in (False, True)]
    assert mask_identity(read_as[0]) != mask_identity(read_as[1])  # the same file read with the other polarity


@pytest.mark.slow
def test_a_second_run_on_the_same_results_folder_is_refused_while_the_first_runs(tmp_path):
    # the first run's method says when it has started and waits until the test lets it go: it holds
    # the lock while the second run starts, on a machine however busy (a second run let in goes on)
    (tmp_path / "held.py").write_text(
        "import os, pathlib, time\n"
        "def inpaint(image, mask):\n"
        "    started = pathlib.Path('started')\n"
        "    if not started.exists():\n"
        "        started.write_text(str(os.getpid()))\n"
        "    for _ in range(6000 if started.read_text() == str(os.getpid()) else 0):  # the first run only\n"
        "        if pathlib.Path('release').exists():\n"
        "            break\n"
        "        time.sleep(0.01)\n"
        "    return image\n"
    )
    rng = np.random.default_rng(6)
    for i in range(4):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    command = [str(Path(sys.executable).with_name("benchmark")), *run_arguments(tmp_path, "held:inpaint")]
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "out" / "results.csv.lock"
    for _ in range(6000):  # until the first run is inside its method, holding the lock
        if (tmp_path / "started").exists() or first.poll() is not None:
            break
        time.sleep(0.01)
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    (tmp_path / "release").touch()
    first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode != 0
    assert "in use by another benchmark run" in second.stderr.splitlines()[-1] and lock.exists()
    lines = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(lines) == 5 and len(set(lines)) == 5  # the header and each pair once, no fragments
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr  # free again afterwards (and nothing left to do)


def test_a_results_file_of_an_older_version_is_named_as_such(tmp_path):
    (tmp_path / "results.csv").write_text("method,mask,image,category,bin,l1,psnr,ssim,seconds,device\n")
    line = one_error_line(runner.invoke(benchmark, ["table", str(tmp_path)]))
    assert "results format 0 (pconvkit before 0.2.0)" in line


@pytest.mark.parametrize("damage", ["letters", "nul", "short"])
def test_a_damaged_results_file_is_named_with_its_line(tmp_path, damage):
    rng = np.random.default_rng(8)
    for i in range(2):
        write_image(tmp_path / "images" / f"{i}.png", rng.random((64, 64, 3)))
        write_png_atomic(tmp_path / "masks" / f"{i}.png", mask_to_png(valid_mask()))
    assert runner.invoke(benchmark, run_arguments(tmp_path)).exit_code == 0
    results = tmp_path / "out" / "results.csv"
    lines = results.read_text().splitlines(keepends=True)
    fields = lines[1].split(",")
    if damage == "letters":
        fields[8] = "abc"
    elif damage == "nul":
        fields[8] = "1\0"
    else:
        fields = fields[:5]
    lines[1] = ",".join(fields) + ("" if fields[-1].endswith("\n") else "\n")
    results.write_text("".join(lines))
    for command in (["table", str(tmp_path / "out")], ["timing", str(tmp_path / "out")]):
        assert "line 2" in one_error_line(runner.invoke(benchmark, command))


def _result_rows(count):
    return [
        dict.fromkeys(RESULT_FIELDS, "x")
        | dict(method="m", mask=f"{i:05d}", l1=f"{i / 7!r}", psnr="30.5", ssim="0.9", l1_hole="1", lpips="nan")
        | dict.fromkeys(["hole_ratio", "ssim_full", "psnr_hole", "lpips_box"], "nan")
        | dict(seconds="0.25")
        for i in range(count)
    ]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 6), st.data())
def test_a_file_cut_anywhere_reads_as_the_rows_whose_line_end_was_written(tmp_path_factory, count, data):
    from pconvkit.benchmark.results import open_results
    from pconvkit.files import csv_text

    text = csv_text(_result_rows(count), RESULT_FIELDS).encode()
    header = text.index(b"\n") + 1
    cut = data.draw(st.integers(header, len(text)))
    path = tmp_path_factory.mktemp("torn") / "results.csv"
    path.write_bytes(text[:cut])
    complete = text[:cut].count(b"\n") - 1  # line ends written after the header's
    assert [r["mask"] for r in read_results(path)] == [f"{i:05d}" for i in range(complete)]
    handle, _ = open_results(path)  # the torn line is cut away before anything is appended
    handle.close()
    assert path.read_bytes() == text[: text[:cut].rfind(b"\n") + 1]


def _entries(tmp_path, count):
    from pconvkit.benchmark.data import MaskEntry

    return [
        MaskEntry(f"m{k}", tmp_path / "masks" / f"m{k}.png", "NB"[k % 2], "0.01-0.1", bool(k % 2), (None, 0.5)[k % 2])
        for k in range(count)
    ]


def test_vectors_are_saved_one_file_per_mask_in_batches_and_computed_once(tmp_path):
    """40 images through a stand-in network 16 at a time; a second call (a resumed run) computes only
    the masks still missing; the saved rows come back in the masks' order, with the truth's."""
    from pconvkit.benchmark.results import TRUTH, save_vectors, saved_vectors, vector_folder

    entries, batches = _entries(tmp_path, 40), []
    images = [np.full((4, 4, 3), k, np.float32) for k in range(40)]

    def network(stack):
        batches.append(len(stack))
        return stack.reshape(len(stack), -1)[:, :3] * 2  # a row per image, from that image alone

    save_vectors(network, tmp_path, "fid", TRUTH, list(zip(entries[:25], images)))
    assert batches == [16, 9]
    save_vectors(network, tmp_path, "fid", TRUTH, list(zip(entries, images)))  # resumed with 15 more
    assert batches == [16, 9, 15]
    save_vectors(network, tmp_path, "fid", "a", list(zip(entries, images)), batch=7)
    assert batches[3:] == [7, 7, 7, 7, 7, 5]
    files = sorted(vector_folder(tmp_path, "fid", "a").iterdir())
    assert len(files) == 40 and not [f for f in files if f.suffix != ".npy"]  # no temporary left
    masks = [f"m{k}" for k in (3, 0, 39)]
    outputs, truths = saved_vectors(tmp_path, "fid", "a", masks, minimum=3)
    assert outputs.dtype == np.float32 and outputs.tolist() == [[6.0] * 3, [0.0] * 3, [78.0] * 3]
    assert truths.tolist() == outputs.tolist()
    assert saved_vectors(tmp_path, "fid", "a", masks, minimum=4) is None  # too few masks
    (vector_folder(tmp_path, "fid", TRUTH) / "m0.npy").unlink()
    assert saved_vectors(tmp_path, "fid", "a", masks, minimum=3) is None  # the truth's vector missing
    np.save(vector_folder(tmp_path, "fid", "a") / "m5.npy", np.array([{"code": 1}], dtype=object))
    with pytest.raises(UserError, match="a saved vector is not an array of this run's"):  # a pickle is never loaded
        saved_vectors(tmp_path, "fid", "a", ["m5", "m6"], minimum=2)
    whole = (vector_folder(tmp_path, "fid", "a") / "m7.npy").read_bytes()
    for damaged in (b"", whole[:60], whole[:-4]):  # empty, cut in its header, cut in its data
        (vector_folder(tmp_path, "fid", "a") / "m5.npy").write_bytes(damaged)
        with pytest.raises(UserError, match="a saved vector is not an array of this run's"):
            saved_vectors(tmp_path, "fid", "a", ["m5", "m6"], minimum=2)


def test_the_pairing_round_trips_and_a_changed_one_is_refused_only_over_results(tmp_path):
    from pconvkit.benchmark.results import PAIRING_FILE, RESULTS_FILE, read_pairing, write_pairing

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UserError, match="no pairing.csv"):
        read_pairing(out)
    pairs = [(entry, f"photo{k}.png") for k, entry in enumerate(_entries(tmp_path, 4))]
    write_pairing(out, pairs)
    back = read_pairing(out)
    assert [(m.mask_id, m.category, m.bin, m.hole_white, m.threshold, image) for m, image in back] == [
        (m.mask_id, m.category, m.bin, m.hole_white, m.threshold, image) for m, image in pairs
    ]
    assert [m.path.resolve() for m, _ in back] == [m.path.resolve() for m, _ in pairs]
    swapped = [(m, f"other{k}.png") for k, (m, _) in enumerate(pairs)]
    write_pairing(out, swapped)  # no results yet: a new pairing replaces the old
    assert [image for _, image in read_pairing(out)] == [image for _, image in swapped]
    (out / RESULTS_FILE).write_text(",".join(RESULT_FIELDS) + "\n")
    changed = swapped[:2] + [(swapped[2][0], "a.png"), (swapped[3][0], "y.png")]  # one sorts before, one after
    with pytest.raises(UserError, match=r"another mask-image pairing \(mask m2\)"):
        write_pairing(out, changed)
    (out / PAIRING_FILE).unlink()
    write_pairing(out, changed)  # results without a pairing (an older run): nothing to contradict


def test_run_settings_round_trip_and_a_damaged_file_is_named_with_its_first_error_line(tmp_path):
    from pconvkit.benchmark.results import SETTINGS_FILE, write_run_settings

    assert read_run_settings(tmp_path) == {}
    write_run_settings(tmp_path, seed=3, size=256)
    assert read_run_settings(tmp_path) == dict(seed=3, size=256, results_format=RESULTS_FORMAT)
    (tmp_path / SETTINGS_FILE).write_text('{"seed": ' + "1" * 200)
    with pytest.raises(UserError) as error:
        read_run_settings(tmp_path)
    message = str(error.value)
    assert "run.json is damaged (Expecting" in message and len(message) < 80 + len(str(tmp_path)) + 80
    (tmp_path / SETTINGS_FILE).write_bytes(b"\xff\xfe{")
    with pytest.raises(UserError, match="is damaged"):
        read_run_settings(tmp_path)
    (tmp_path / SETTINGS_FILE).unlink()
    (tmp_path / SETTINGS_FILE).mkdir()  # a folder where the file belongs: an OSError
    with pytest.raises(UserError, match="is damaged"):
        read_run_settings(tmp_path)


def test_each_earlier_results_format_is_the_header_that_version_wrote():
    identified = "method,method_id,mask,mask_hash,image,image_hash,category,bin"
    written = {
        0: "method,mask,image,category,bin,l1,psnr,ssim,seconds,device",
        1: f"{identified},l1,psnr,ssim,seconds,device",
        2: f"{identified},l1,psnr,ssim,l1_hole,seconds,device",
        3: f"{identified},l1,psnr,ssim,l1_hole,lpips,seconds,device",
    }
    assert {version: ",".join(RESULT_FORMATS[version]) for version in written} == written
    assert RESULT_FORMATS[RESULTS_FORMAT] == tuple(RESULT_FIELDS) and RESULTS_FORMAT == max(written) + 1


def test_a_row_of_another_run_names_exactly_the_identity_fields_that_differ():
    from pconvkit.benchmark.results import done_pairs

    def text(value):
        return "".join(list(value))  # as read from a file: equal, but another object

    expected = {("a", "m1"): dict(method_id="id1", mask_hash="h1", image_hash="i1")}
    same = dict(method="a", mask="m1", method_id=text("id1"), mask_hash=text("h1"), image_hash=text("i1"))
    assert done_pairs([same], expected) == {("a", "m1")}
    assert done_pairs([dict(same, mask="m2")], expected) == set()  # not a pair of this run
    assert done_pairs([dict(same, mask="m2"), same], expected) == {("a", "m1")}  # and the rows after it
    with pytest.raises(UserError, match=r"a row of a on mask m1 whose image hash differ from"):
        done_pairs([dict(same, image_hash="i0")], expected)  # a value that sorts before this run's
    with pytest.raises(UserError, match=r"whose method id and mask hash differ from"):
        done_pairs([dict(same, method_id="id2", mask_hash="h0")], expected)


def test_a_nul_byte_is_named_by_its_line_on_any_line(tmp_path):
    header = ",".join(RESULT_FIELDS)
    for line in (1, 2, 3, 5):
        lines = [header] + ["x"] * 5
        lines[line - 1] = lines[line - 1][:3] + "\0" + lines[line - 1][3:]
        (tmp_path / "results.csv").write_text("\n".join(lines) + "\n")
        with pytest.raises(UserError, match=rf"results.csv, line {line}: a NUL byte"):
            read_results(tmp_path / "results.csv")


def test_a_results_file_of_the_current_format_is_left_alone_by_an_upgrade(run_folder):
    from pconvkit.benchmark.results import upgrade_results

    path = run_folder / "results.csv"
    with open(path, "a") as handle:
        handle.write("telea,m,9")  # a torn last line, which a rewrite would drop
    before = path.read_bytes()
    assert upgrade_results(path) == RESULTS_FORMAT and path.read_bytes() == before


def test_a_results_folder_or_file_is_found_whether_or_not_it_exists_yet(tmp_path):
    from pconvkit.benchmark.results import RESULTS_FILE, results_path

    (tmp_path / "made").mkdir()
    (tmp_path / "made" / "other.csv").write_text("")
    assert results_path(tmp_path / "made") == tmp_path / "made" / RESULTS_FILE
    assert results_path(tmp_path / "new") == tmp_path / "new" / RESULTS_FILE  # a folder still to be made
    assert results_path(tmp_path / "made" / "other.csv") == tmp_path / "made" / "other.csv"
    assert results_path(tmp_path / "new.csv") == tmp_path / "new.csv"
    assert results_path(tmp_path / "folder.d") == tmp_path / "folder.d"  # a name with a suffix: a file


def test_the_pairing_is_named_by_its_files_hash_and_an_older_one_is_refused_by_name(tmp_path):
    import hashlib

    from pconvkit.benchmark.results import PAIRING_FILE, pairing_hash, read_pairing

    assert pairing_hash(tmp_path) == "unknown"  # a run from before pairing.csv
    (tmp_path / PAIRING_FILE).write_text("mask,image,category,bin,path,hole_white\nm0,a.png,N,0.01-0.1,m0.png,0\n")
    assert pairing_hash(tmp_path) == hashlib.sha256((tmp_path / PAIRING_FILE).read_bytes()).hexdigest()[:16]
    with pytest.raises(UserError, match="written by an older pconvkit"):  # no threshold column, one row
        read_pairing(tmp_path)


def test_vectors_are_computed_16_images_at_a_time_and_each_once(tmp_path):
    """The README's fixed batch (a network's last bits can depend on it): 40 truths go through in
    batches of 16, 16 and 8, each row saved under its mask, and a resumed call computes none again."""
    from pconvkit.benchmark.data import MaskEntry
    from pconvkit.benchmark.results import save_vectors

    batches = []

    def network(images):
        batches.append(len(images))
        return images.reshape(len(images), -1).mean(axis=1, keepdims=True)

    items = [
        (MaskEntry(f"{i:05d}", tmp_path / f"{i}.png", "N", "0.01-0.1"), np.full((4, 4, 3), i, np.float32))
        for i in range(40)
    ]
    save_vectors(network, tmp_path, "inception", "gt", items)
    assert batches == [16, 16, 8]
    assert [float(np.load(tmp_path / "inception" / "gt" / f"{i:05d}.npy")[0]) for i in range(40)] == list(range(40))
    save_vectors(network, tmp_path, "inception", "gt", items)
    assert batches == [16, 16, 8]

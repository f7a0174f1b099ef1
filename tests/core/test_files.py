"""Writing outputs whole or not at all, content hashes, and settings records that carry their format:
an earlier format is read, a newer or damaged one refused in one line, other settings never mixed."""

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from helpers import valid_mask

from pconvkit.errors import UserError
from pconvkit.files import (
    SETTINGS_FORMAT,
    SETTINGS_FORMAT_KEY,
    atomic_path,
    check_settings_file,
    content_hash,
    csv_text,
    read_csv_rows,
    read_settings_record,
    save_figure,
    write_png_atomic,
    write_text_atomic,
)
from pconvkit.images import mask_to_png


def test_a_failed_write_leaves_the_old_file_and_no_temporary_behind(tmp_path):
    path = tmp_path / "table.md"
    write_text_atomic(path, "old\n")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["table.md"]


def test_a_figure_is_saved_whole_or_not_at_all(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure()
    path = save_figure(figure, tmp_path / "plot.png", dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not plt.fignum_exists(figure.number)
    broken = plt.figure()

    def fails_halfway(target, **options):
        Path(target).write_bytes(b"\x89PNG half")
        raise OSError("disk full")

    broken.savefig = fails_halfway
    with pytest.raises(OSError, match="disk full"):
        save_figure(broken, tmp_path / "plot.png", dpi=50)
    assert path.read_bytes() == save_figure(plt.figure(), tmp_path / "again.png", dpi=50).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.png", "plot.png"]  # no temporary left
    assert not plt.fignum_exists(broken.number)


def test_writing_onto_a_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="it is a folder"):
        write_text_atomic(tmp_path, "x")


def test_content_hashes_tell_bytes_arrays_and_text_apart_in_order():
    array = np.arange(4, dtype=np.uint8)
    assert content_hash(array) == content_hash(array.tobytes()) != content_hash(array.astype(np.int16))
    assert content_hash("a", "b") != content_hash("b", "a") and len(content_hash("a")) == 16


def test_csv_text_round_trips_through_the_reader(tmp_path):
    rows = [{"name": "a, with comma", "value": "1"}, {"name": 'quote "q"', "value": ""}]
    (tmp_path / "rows.csv").write_text(csv_text(rows, ["name", "value"]))
    assert read_csv_rows(tmp_path / "rows.csv") == rows


def _recorded_stage(tmp_path, settings):
    check_settings_file(tmp_path / "settings.json", settings, "a test set")
    (tmp_path / "0.png").write_bytes(b"an output")  # the stage wrote something: the record now binds
    return tmp_path / "settings.json"


def test_a_settings_record_carries_its_format(tmp_path):
    record = json.loads(_recorded_stage(tmp_path, {"seed": 0}).read_text())
    assert record == {"seed": 0, SETTINGS_FORMAT_KEY: SETTINGS_FORMAT}


def test_a_record_of_format_0_is_read_and_a_resumed_stage_accepts_it(tmp_path):
    path = _recorded_stage(tmp_path, {"seed": 0, "size": 512})
    path.write_text(json.dumps({"seed": 0, "size": 512}))  # as pconvkit 0.2.0 wrote it: no format key
    assert read_settings_record(path) == {"seed": 0, "size": 512, SETTINGS_FORMAT_KEY: SETTINGS_FORMAT}
    check_settings_file(path, {"seed": 0, "size": 512}, "a test set")  # the same settings: no refusal
    with pytest.raises(UserError, match=r"other settings or inputs \(seed\)"):
        check_settings_file(path, {"seed": 1, "size": 512}, "a test set")


@pytest.mark.parametrize(
    "text,message",
    [
        (json.dumps({"seed": 0, SETTINGS_FORMAT_KEY: SETTINGS_FORMAT + 1}), "written by a newer pconvkit"),
        (json.dumps({"seed": 0, SETTINGS_FORMAT_KEY: "1"}), "settings format '1'"),
        ("{not json", "is not a settings record pconvkit wrote"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_a_newer_or_damaged_record_is_refused_in_one_line(tmp_path, text, message):
    path = _recorded_stage(tmp_path, {"seed": 0})
    path.write_text(text)
    with pytest.raises(UserError, match=message) as caught:
        check_settings_file(path, {"seed": 0}, "a test set")
    assert "\n" not in str(caught.value)
    assert path.read_text() == text  # refused, not overwritten


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_png_atomic(tmp_path / "m.png", mask_to_png(valid_mask()))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.png").stat().st_mode) == 0o644

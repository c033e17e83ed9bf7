"""Result files are written whole or not at all, with the umask's permissions, and a full disk is named as such."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from trainer import atomic
from trainer.atomic import as_umask_allows, full_disk_named, open_atomic, save_figure_atomic, write_json_atomic


@pytest.mark.parametrize("stop", [RuntimeError("a bug"), KeyboardInterrupt()], ids=["error", "ctrl_c"])
def test_a_write_stopped_midway_leaves_the_old_file_and_nothing_beside_it(tmp_path, stop):
    path = tmp_path / "all_results.json"
    path.write_text("old\n")
    with pytest.raises(type(stop)):
        with open_atomic(path) as f:
            f.write("half of the new")
            raise stop
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["all_results.json"]


def test_a_figure_whose_save_fails_leaves_the_old_plot_and_one_that_succeeds_is_in_its_suffixs_format(
        tmp_path, monkeypatch, savefig_fails_after_writing):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([0, 1])
    (tmp_path / "plot.png").write_bytes(b"old")
    with pytest.raises(OSError):
        save_figure_atomic(fig, tmp_path / "plot.png", dpi=50)
    assert (tmp_path / "plot.png").read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["plot.png"]
    monkeypatch.undo()
    save_figure_atomic(fig, tmp_path / "plot.png", dpi=50)
    save_figure_atomic(fig, tmp_path / "plot.svg", dpi=50)
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (tmp_path / "plot.svg").read_bytes()


def test_a_written_file_has_the_umasks_permissions_and_json_takes_paths(tmp_path):
    before = os.umask(0o027)
    try:
        write_json_atomic(tmp_path / "sub" / "r.json", {"b": Path("/x"), "a": 1})
    finally:
        os.umask(before)
    assert (tmp_path / "sub" / "r.json").stat().st_mode & 0o777 == 0o640
    # keys sorted, four spaces, a final newline: a result file rewritten with the same values is the same file, and
    # its diff shows only what changed
    assert (tmp_path / "sub" / "r.json").read_text() == '{\n    "a": 1,\n    "b": "/x"\n}\n'


def test_the_new_file_reaches_the_disk_before_it_replaces_the_old_one(tmp_path, monkeypatch):
    """Else a crash of the machine soon after could leave the new name on an empty file, the old one gone."""
    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))))
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (calls.append(("replace", str(src))), replace(src, dst)))
    write_json_atomic(tmp_path / "r.json", {"a": 1})
    assert [what for what, _ in calls] == ["fsync", "replace"] and calls[0][1] == calls[1][1]


def test_model_files_safetensors_writes_0600_get_the_umasks_permissions(tmp_path):
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]  # a large model's
    for name in ["model.safetensors", *shards]:
        (tmp_path / name).touch(mode=0o600)
    before = os.umask(0o027)
    try:
        as_umask_allows(tmp_path)
    finally:
        os.umask(before)
    assert all((tmp_path / name).stat().st_mode & 0o777 == 0o640 for name in ["model.safetensors", *shards])


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_save_failing_on_a_full_disk_or_quota_is_named_as_such(tmp_path, monkeypatch, code):
    def no_room(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.tempfile, "TemporaryFile", no_room)
    with pytest.raises(OSError) as raised:
        with full_disk_named(tmp_path):
            raise RuntimeError("safetensors: Error while serializing: IoError")
    assert raised.value.errno == code and raised.value.filename == str(tmp_path)


def test_a_save_failing_for_another_reason_is_reported_as_it_was(tmp_path, monkeypatch):
    probes = []
    monkeypatch.setattr(atomic, "_no_room", lambda folder: probes.append(folder))
    with pytest.raises(RuntimeError, match="a bug"):
        with full_disk_named(tmp_path):
            raise RuntimeError("a bug")  # the disk has room: the probe finds nothing
    with pytest.raises(PermissionError):
        with full_disk_named(tmp_path):
            raise PermissionError(errno.EACCES, "denied")  # an OSError already says what it is: no probe
    assert probes == [tmp_path]


def test_the_file_a_killed_write_leaves_is_hidden_and_one_of_a_runs_own(tmp_path):
    """A process killed mid-write (SIGKILL, out of memory) leaves its temporary file: out of sight in a listing, and
    not a foreign file that would keep the next run out of output_dir."""
    from app.output_dir import is_own

    with open_atomic(tmp_path / "all_results.json") as f:
        f.write("{}")
        [left] = [p.name for p in tmp_path.iterdir()]
    assert left.startswith(".all_results.json.") and left.endswith(".tmp") and is_own(left)

"""trainer/locks.py: a lock's file goes with it, and never lets two processes hold one lock."""

from __future__ import annotations

import pytest
from filelock import FileLock, Timeout

from trainer import locks


def test_the_lock_file_goes_when_released_and_the_lock_is_held_meanwhile(tmp_path):
    release = locks.hold(tmp_path / "a.lock")
    with pytest.raises(Timeout):
        locks.hold(tmp_path / "a.lock", timeout=0)
    release()
    assert not any(tmp_path.iterdir())
    locks.hold(tmp_path / "a.lock", timeout=0)()


def test_the_lock_file_is_removed_before_the_lock_is_let_go(tmp_path, monkeypatch):
    """Removed after, it could be a file another process had just locked: a third would then lock a new one."""
    from filelock import BaseFileLock

    let_go, seen = BaseFileLock.release, []

    def release(lock, *args, **kwargs):
        seen.append((tmp_path / "a.lock").exists())
        return let_go(lock, *args, **kwargs)

    monkeypatch.setattr(BaseFileLock, "release", release)
    locks.hold(tmp_path / "a.lock")()
    assert seen and not any(seen)


@pytest.mark.parametrize("created_anew", [False, True], ids=["removed", "removed_and_created_anew"])
def test_a_lock_file_removed_before_it_was_locked_is_not_a_lock(tmp_path, monkeypatch, created_anew):
    """A process that opened the lock file just before the one holding it removed it and let go would lock a file no
    longer in the folder, beside a third process that locks the new one: both would go on. The file may be there
    again by then, the third process's: the same name, another file."""
    is_still, checked = locks._is_still, []

    def removed_once(path):
        def check(fd):
            checked.append(fd)
            if len(checked) == 1:
                path.unlink()  # by the process that held it, between this one's opening it and locking it
                if created_anew:
                    path.touch()  # by a third process, about to lock it
            is_still(path)(fd)
        return check
    monkeypatch.setattr(locks, "_is_still", removed_once)
    release = locks.hold(tmp_path / "a.lock", timeout=0)
    assert len(checked) == 2
    with pytest.raises(Timeout):
        FileLock(str(tmp_path / "a.lock")).acquire(timeout=0)  # the file in the folder is the one held
    release()


def test_a_file_system_whose_files_change_identity_keeps_the_lock_file(tmp_path, monkeypatch):
    """Where the file never looks like the one locked (inode numbers made up anew, as on some FUSE mounts), the lock
    is still taken, once, and its file kept, rather than retried for ever."""
    def never(path):
        def check(fd):
            raise locks._Removed(path)
        return check
    monkeypatch.setattr(locks, "_is_still", never)
    release = locks.hold(tmp_path / "a.lock", timeout=0)
    with pytest.raises(Timeout):
        FileLock(str(tmp_path / "a.lock")).acquire(timeout=0)
    release()
    assert [p.name for p in tmp_path.iterdir()] == ["a.lock"]
    locks.hold(tmp_path / "a.lock", timeout=0)()

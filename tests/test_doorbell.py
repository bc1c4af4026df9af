"""The writer lock's doorbell: a waiter wakes when the lock is released, not at its next
poll; where no bell can exist, waiting still works by polling; nothing lands beside the
database."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack import doorbell
from hpotrack.doorbell import Doorbell
from hpotrack.filelock import WriterLock


@pytest.fixture
def bells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private runtime folder for this test's bells."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return runtime / f"hpotrack-{os.getuid()}"


def hand_over(database: Path) -> bool:
    """Hold the lock in one thread, wait for it in another (a second descriptor, so
    the two exclude each other like two processes), release: whether the waiter got it
    within 20 s. Its polls are an hour apart, so only the bell can wake it in time."""
    holder, waiter = WriterLock(database), WriterLock(database)
    waiter.POLL_MIN_S = waiter.POLL_MAX_S = 3600.0
    held, got = threading.Event(), threading.Event()

    def wait() -> None:
        held.wait()
        with waiter.hold(timeout=7200):
            got.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    with holder.hold(timeout=10):
        held.set()
        thread.join(timeout=0.5)  # the waiter is asleep by now (or soon: either works)
    woke = got.wait(timeout=20)
    thread.join(timeout=20)  # it releases the lock before its descriptor is closed
    holder.close()
    waiter.close()
    return woke


def test_a_waiter_wakes_when_the_lock_is_released(tmp_path: Path, bells: Path) -> None:
    assert hand_over(tmp_path / "h.db")
    assert [p.suffix for p in bells.iterdir()] == [".wake"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.db.lock", "runtime"]


def test_a_lone_writer_makes_no_bell(tmp_path: Path, bells: Path) -> None:
    space = {"x": hp.Float(0.0, 1.0)}
    tuned = hp.tune(space, method="random", study="alone", db=tmp_path / "h.db")(lambda x: x)
    tuned.optimize(n_trials=5, progress=False)
    assert not bells.exists() or not list(bells.iterdir())


def test_without_a_private_folder_waiting_polls(tmp_path: Path, bells: Path) -> None:
    bells.mkdir(mode=0o777)
    bells.chmod(0o777)  # others could plant files there: not used
    lock = tmp_path / "h.db.lock"
    lock.touch()
    assert doorbell._bell_path(lock) is None
    bell = Doorbell(lock)
    bell.wait(0.001)  # sleeps instead
    bell.ring()  # nothing to ring
    bell.close()


def test_a_file_in_the_bells_place_is_not_a_bell(tmp_path: Path, bells: Path) -> None:
    lock = tmp_path / "h.db.lock"
    lock.touch()
    bells.mkdir(mode=0o700)
    path = doorbell._bell_path(lock)
    assert path is not None
    path.write_text("not a pipe")
    assert doorbell._open_fifo(path, create=True) is None
    bell = Doorbell(lock)
    bell.wait(0.001)
    bell.close()


def test_a_wait_that_fails_leaves_the_lock_usable(tmp_path: Path, bells: Path) -> None:
    """A wait that times out (or whose work while waiting raises) holds nothing, and the
    next hold of the same lock really takes it: a third writer is kept out."""
    database = tmp_path / "h.db"
    first, second, third = WriterLock(database), WriterLock(database), WriterLock(database)

    def fail() -> None:
        raise RuntimeError("reading failed")

    with first.hold(timeout=10):
        with pytest.raises(TimeoutError), second.hold(timeout=0.05):
            pass
        with pytest.raises(RuntimeError, match="reading failed"), second.hold(10, fail):
            pass
    with second.hold(timeout=10), pytest.raises(TimeoutError), third.hold(timeout=0.05):
        pass
    for lock in (first, second, third):
        lock.close()


def test_a_bell_with_a_descriptor_above_1023_still_wakes_its_waiter(
    tmp_path: Path, bells: Path
) -> None:
    """select() refuses descriptors from 1024 on, which a process that opened many
    databases reaches; waiting on the bell must not fail there."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if min(soft, hard) < 1200 and hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the descriptor limit ({hard}) is below 1200")
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    filler = []
    try:
        while len(filler) < 1030 and (fd := os.open(os.devnull, os.O_RDONLY)) < 1030:
            filler.append(fd)
        filler.append(fd)
        assert hand_over(tmp_path / "h.db")
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_process_that_tuned_many_databases_does_not_keep_them_open(tmp_path: Path) -> None:
    """Each database opened holds a few descriptors (the file, its -wal, -shm and lock):
    once nothing uses a study's store any more, they are closed."""
    import gc

    def open_here() -> list[str]:
        """The files under tmp_path this process has descriptors of (by name, not a count
        of every descriptor, which another thread of the process may change meanwhile)."""
        found = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # closed since the listing
                found.append(os.readlink(f"/proc/self/fd/{fd}"))
        return sorted(Path(name).name for name in found if name.startswith(str(tmp_path)))

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc")
    for i in range(3):  # each gc.collect() takes a while in a whole suite's process
        space = {"x": hp.Float(0.0, 1.0)}
        tuned = hp.tune(space, method="random", study="s", db=tmp_path / f"{i}.db")(lambda x: x)
        tuned.optimize(n_trials=3, progress=False)
        assert f"{i}.db" in open_here()  # what is looked for is seen while in use
        del tuned
        gc.collect()
        assert open_here() == [], f"still open after database {i}"

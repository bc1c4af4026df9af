"""Checkpoint files beside the database: written atomically, found through lineage,
loaded with their hash checked (removed once nothing can load them:
:mod:`hpotrack.checkpoint_sweeps`).

A checkpoint is a file ``<db>.ckpt/<study>-<hash>/trial-<n>-step-<s>-<content>.<fmt>``
(``pkl``: a pickled object; ``bin``: bytes stored as they were given; ``<content>``: the
start of its SHA-256) plus a row of the ``checkpoints`` table with its path, size and hash.
The object is pickled straight into a temporary file in the same folder (hashed on the
way: never held twice in memory), synced, and renamed to its final name, which no other
content has, so a reader sees a complete file or none; the row is stored after the
rename and only then is a file it replaces deleted. A writer killed at any moment
leaves the previous checkpoint loadable (at worst an unreferenced file).

Which checkpoint a trial loads is lineage: its first parent edge of a kind that carries
weights (``continued``, ``exploited``, ``promoted``) names the trial and the step to
resume from (DESIGN principle 5). Methods choose by choosing parents. A retry of a lost
or interrupted trial that had saved checkpoints of its own has a ``retried`` edge with a
step instead: it resumes its lost attempt's latest checkpoint below the budget.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from hpotrack.errors import StorageError, StudyDeleted, TrialError
from hpotrack.files import write_then_name
from hpotrack.loader import SCRIPT_MODULE
from hpotrack.records import Edge, Origin, TrialRecord
from hpotrack.store import Store
from hpotrack.trial import MetricRow

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

OWNERS_LOOKED_AT = 64
"""Checkpoint rows :func:`any_saved` reads before it looks along the study's trials."""
CARRIES_WEIGHTS = (Origin.CONTINUED.value, Origin.EXPLOITED.value, Origin.PROMOTED.value)


@dataclass(frozen=True)
class Checkpoint:
    """A stored checkpoint: whose, at which step, where (relative to ``<db>.ckpt/``)."""

    trial_id: int
    step: int
    path: str
    size: int
    sha256: str


def source_edge(trial: TrialRecord) -> Edge | None:
    """The parent edge whose checkpoint ``trial`` starts from, if any: a ``retried`` edge
    with a step (the retry resumes its lost attempt's line there), else the first edge
    of a kind that carries weights."""
    for edge in trial.parents:
        if edge.kind == Origin.RETRIED.value and edge.step is not None:
            return edge
    return next((e for e in trial.parents if e.kind in CARRIES_WEIGHTS), None)


Found = TypeVar("Found")


def line_state(
    trials: Sequence[TrialRecord],
    number: int,
    step: int | None,
    find: Callable[[int, int | None], Found | None],
) -> Found | None:
    """The checkpoint holding trial ``number``'s line as it was at ``step`` (None: its
    latest), as ``find(number, at_most)`` gives a trial's latest at or before a step;
    None if none is stored. A trial that saved none by then was still where it started:
    the checkpoint it started from, if at or before that step (a retry lost before its
    first save, or a promoted trial stopped before it saved, resumes where it started;
    ``Trial.steps`` then starts after it)."""
    while True:
        found = find(number, step)
        if found is not None:
            return found
        started = source_edge(trials[number])
        if started is None or (step is not None and (started.step is None or started.step > step)):
            return None
        number, step = started.parent, started.step  # a parent's number is below: this ends


def stored_line_state(
    store: Store, study_id: int, trials: Sequence[TrialRecord], number: int, step: int | None
) -> Checkpoint | None:
    """:func:`line_state` over the checkpoints stored for study ``study_id`` (:func:`find`),
    committed ones only (:meth:`Store.reading`): a row that another thread of the process
    is deleting, or writing, in a transaction it may roll back is not its answer."""
    with store.reading():
        return line_state(trials, number, step, functools.partial(find, store, study_id))


def save(
    store: Store,
    study: str,
    trial_id: int,
    number: int,
    step: int,
    obj: object,
    reports: Sequence[MetricRow] = (),
) -> Checkpoint:
    """Write ``obj`` (bytes as they are, anything else pickled) as trial ``number``'s
    checkpoint at ``step``; a second save at the same step replaces the first. The
    trial's ``reports`` not yet written are stored in the same transaction as its row.

    Streamed: pickled straight into the file and hashed on the way, so a model is not
    held twice in memory (its pickle beside it)."""
    suffix = "bin" if isinstance(obj, bytes | bytearray | memoryview) else "pkl"
    folder = store.checkpoint_dir(study)

    def fill(handle: IO[bytes]) -> _HashingWriter:
        writer = _HashingWriter(handle)
        if isinstance(obj, bytes | bytearray | memoryview):
            _write_raw(obj, writer)
        else:
            _pickle(obj, writer)
        return writer

    def final_name(writer: _HashingWriter) -> Path:
        # A new name for every content: the file a row points to is never overwritten, so
        # a writer killed before its row is stored leaves the previous checkpoint intact.
        return folder / f"trial-{number}-step-{step}-{writer.sha256.hexdigest()[:12]}.{suffix}"

    try:
        folder.mkdir(parents=True, exist_ok=True)
        writer, final = write_then_name(
            folder / f"trial-{number}-step-{step}.{suffix}", fill, final_name, text=False
        )
    except (_WriteFailed, OSError) as exc:  # the folder, not the trial: no run can save here
        error = exc.error if isinstance(exc, _WriteFailed) else exc
        if not store.trial_exists(trial_id):  # its folder moved away by hpotrack delete
            raise StudyDeleted.while_used(study, store.path) from None
        raise unusable_folder(store, folder, "save a checkpoint", error) from error
    checkpoint = Checkpoint(
        trial_id=trial_id,
        step=step,
        path=str(final.relative_to(store.checkpoint_root)),
        size=writer.size,
        sha256=writer.sha256.hexdigest(),
    )
    try:
        with store.write():
            if not store.trial_exists(trial_id):  # deleted since the caller looked
                raise StudyDeleted.while_used(study, store.path)
            if reports:
                store.add_metrics(trial_id, reports)
            replaced = store.conn.execute(
                "SELECT path FROM checkpoints WHERE trial_id = ? AND step = ?", (trial_id, step)
            ).fetchone()
            store.conn.execute(
                "INSERT OR REPLACE INTO checkpoints (trial_id, step, path, bytes, hash, time) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (trial_id, step, checkpoint.path, checkpoint.size, checkpoint.sha256, time.time()),
            )
    except StudyDeleted:  # a row nobody finds, a file nobody removes (the folder: its name's)
        final.unlink(missing_ok=True)
        raise
    if replaced is not None and replaced[0] != checkpoint.path:
        (store.checkpoint_root / replaced[0]).unlink(missing_ok=True)
    return checkpoint


FILE_NAME = re.compile(
    r"\.?trial-(\d+)-step-\d+(?:-[0-9a-f]{12})?\.(?:pkl|bin)(?:\.\d+\.[0-9a-f]+\.tmp)?"
)
"""A checkpoint file's name, or that of its temporary file while it is written (named
before its content is hashed: without ``<content>``; older versions' had it)."""


class _WriteFailed(Exception):
    """The checkpoint file refused a write (a full disk): not an error of the object
    being pickled, which ``OSError`` from its own pickling code would look like."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _HashingWriter:
    """Writes to a file, hashing and counting what goes through: a checkpoint's hash
    and size, known once it is written, without its content held in memory."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: ReadableBuffer) -> int:
        """Write ``data`` (pickle hands a large array's buffer as it is: no copy)."""
        self.sha256.update(data)
        try:
            written = self._handle.write(data)
        except OSError as exc:
            raise _WriteFailed(exc) from exc
        self.size += written
        return written


def _write_raw(data: bytes | bytearray | memoryview, writer: _HashingWriter) -> None:
    """Write ``data`` as it is: its own buffer, copied only when it is not contiguous
    (a strided view of an array, which a file and a hash cannot take in one piece)."""
    view = memoryview(data)
    writer.write(view if view.c_contiguous else view.tobytes())


def _pickle(obj: object, writer: _HashingWriter) -> None:
    """Pickle ``obj`` into ``writer``; an object pickle cannot store is a clear error."""
    try:
        pickle.dump(obj, writer, protocol=pickle.HIGHEST_PROTOCOL)
    except (
        pickle.PicklingError,
        AttributeError,
        TypeError,
        ValueError,
        RecursionError,
        OSError,  # raised by the object's own pickling code: the file's is _WriteFailed
    ) as exc:
        raise TrialError(
            f"save_checkpoint() needs an object pickle can store, or bytes, but got "
            f"{type(obj).__name__} ({exc}): save the state itself (a model's "
            f"state_dict or get_params(), say), or serialize it to bytes yourself"
        ) from None


def unusable_folder(store: Store, folder: Path, doing: str, exc: OSError) -> StorageError:
    """The error for a checkpoint ``folder`` this process cannot use (another user's, a
    full disk, a link to a folder gone): what it was ``doing``, why, and where
    checkpoints live."""
    root = store.checkpoint_root
    why = exc.strerror or str(exc)
    if root.is_symlink() and not root.exists():  # mkdir says "File exists"
        why = (
            f"{root.name} is a link to {os.readlink(root)}, which does not exist (a "
            "scratch or tmpfs folder emptied, a drive not mounted?)"
        )
    return StorageError(
        f"cannot {doing} in {folder}: {why}; checkpoints live beside the database, in "
        f"{root}: make that a writable folder with free space"
    )


def find(store: Store, study_id: int, number: int, at_most: int | None) -> Checkpoint | None:
    """Trial ``number``'s latest checkpoint at or before step ``at_most`` (any if None;
    held within what SQLite stores: a trial's budget may be any float, e.g. imported)."""
    limit = 2**62 if at_most is None else max(-1, min(at_most, 2**62))
    row = store.conn.execute(
        "SELECT c.trial_id, c.step, c.path, c.bytes, c.hash FROM checkpoints c "
        "JOIN trials t ON t.id = c.trial_id WHERE t.study_id = ? AND t.number = ? "
        "AND c.step <= ? ORDER BY c.step DESC LIMIT 1",
        (study_id, number, limit),
    ).fetchone()
    return None if row is None else Checkpoint(*row)


def of_trial(store: Store, study_id: int, number: int) -> list[Checkpoint]:
    """Trial ``number``'s stored checkpoints, by step."""
    rows = store.conn.execute(
        "SELECT c.trial_id, c.step, c.path, c.bytes, c.hash FROM checkpoints c "
        "JOIN trials t ON t.id = c.trial_id WHERE t.study_id = ? AND t.number = ? "
        "ORDER BY c.step",
        (study_id, number),
    ).fetchall()
    return [Checkpoint(*row) for row in rows]


def any_saved(store: Store, study_id: int) -> bool:
    """Whether any trial of the study has a checkpoint stored (it uses checkpoints), as
    committed (see :func:`stored_line_state`).

    Asked at each promotion that finds no checkpoint to start from (Hyperband without
    checkpoints). The first :data:`OWNERS_LOOKED_AT` checkpoint rows of the file answer
    in a file of one study (none, or one of its own); only beyond them is the study's
    every trial looked up, which alone took 6 ms at 100,000 trials, growing with it."""
    with store.reading():
        owners = [
            owner
            for (owner,) in store.conn.execute(
                "SELECT t.study_id FROM checkpoints c CROSS JOIN trials t ON t.id = c.trial_id "
                "LIMIT ?",
                (OWNERS_LOOKED_AT,),
            )
        ]
        if study_id in owners or len(owners) < OWNERS_LOOKED_AT:
            return study_id in owners
        found = store.conn.execute(
            "SELECT 1 FROM checkpoints c JOIN trials t ON t.id = c.trial_id "
            "WHERE t.study_id = ? LIMIT 1",
            (study_id,),
        ).fetchone()
    return found is not None


def load(store: Store, checkpoint: Checkpoint) -> Any:
    """The object (or bytes) saved in ``checkpoint``; a damaged file is a clear error.
    Its hash is checked first, in pieces; then it is unpickled straight from the file, so
    the object is not held beside a copy of the file's content."""
    path = store.checkpoint_root / checkpoint.path
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        raise TrialError(_missing(store, path)) from None
    except OSError as exc:
        raise TrialError(f"checkpoint {path} cannot be read: {exc}") from None
    with stream:
        try:
            digest = _sha256_of(stream, checkpoint.size)
        except OSError as exc:
            raise TrialError(f"checkpoint {path} cannot be read: {exc}") from None
        if digest != checkpoint.sha256:
            raise TrialError(
                f"checkpoint {path} does not match its stored hash: the file was changed or "
                "damaged after it was written"
            )
        stream.seek(0)
        return stream.read() if path.suffix == ".bin" else _ScriptUnpickler(stream).load()


def _sha256_of(stream: io.BufferedReader, expected_size: int) -> str:
    """The SHA-256 (hex) of what is left in ``stream``, read a piece at a time (of at
    most 1 MiB; no larger than the ``expected_size`` a small file has)."""
    digest = hashlib.sha256()
    piece = bytearray(min(max(expected_size, 1), 1 << 20))
    while size := stream.readinto(piece):
        digest.update(memoryview(piece)[:size])
    return digest.hexdigest()


def _missing(store: Store, path: Path) -> str:
    """Why the file of a stored checkpoint at ``path`` is not there, and what to do."""
    root = store.checkpoint_root
    if not root.is_dir():  # the database copied or moved alone
        return (
            f"checkpoint {path} is missing: the checkpoint folder {root} does not exist; "
            f"checkpoints live beside the database, so copy or move {root.name} along "
            f"with {store.path.name} (or open the database where it was written)"
        )
    return (
        f"checkpoint {path} is missing: it was deleted or moved after it was saved; put "
        f"it back into {path.parent} to load it"
    )


class _ScriptUnpickler(pickle.Unpickler):
    """Unpickles our own files (trusted), finding a class the tuned script defined: run
    as ``python train.py`` it pickled ``__main__.State``; reloaded by ``hpotrack resume``
    or a worker, the script is the module :data:`hpotrack.loader.SCRIPT_MODULE`."""

    def find_class(self, module: str, name: str) -> Any:
        script = sys.modules.get(SCRIPT_MODULE)
        if module == "__main__" and script is not None:
            try:
                return functools.reduce(getattr, name.split("."), sys.modules["__main__"])
            except AttributeError:
                return functools.reduce(getattr, name.split("."), script)
        return super().find_class(module, name)

"""Why a database file cannot be opened, read or written, as one line that says what to
do: SQLite's own errors ("unable to open database file", "attempt to write a readonly
database") are terse and often point the wrong way, so each is explained from the file's
permissions, its folder and SQLite's -wal and -shm files beside it.
:class:`hpotrack.connection.Connection` raises them as :class:`StorageError`.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import stat
from pathlib import Path


def cannot_open(path: Path, exc: sqlite3.DatabaseError) -> str:
    """One line that says why the file cannot be opened and what to do."""
    text = str(exc)
    if "not a database" in text or "file is encrypted" in text:
        return (
            f"{path} is not an hpotrack database (not a SQLite file); "
            "pass db=PATH to the right file"
        )
    if "malformed" in text:
        return damaged(path, text)
    new = "unable to open" in text and not path.exists()
    if new and not os.access(path.parent, os.W_OK):
        return (
            f"cannot create {path}: the folder {path.parent} is read-only for "
            "this user; pass db=PATH (or set HPOTRACK_DB) to a file in a "
            "writable folder"
        )
    if "readonly" in text or ("unable to open" in text and not writable(path)):
        return (
            f"cannot open {path}: SQLite writes beside the file even to read it "
            "(its -wal and -shm files, and migrations), but the file, those files "
            "or its folder are read-only; copy it to a writable folder to read it"
        )
    return f"cannot open {path}: {text}"


def damaged(path: Path, text: str) -> str:
    """A damaged file (SQLite's "malformed"), with the command that recovers what is left."""
    where = shlex.quote(str(path))
    return (
        f"{path} is damaged ({text}): restore it from a backup, or recover what "
        f"is left with: sqlite3 {where} .recover | sqlite3 recovered.db"
    )


def cannot_write(path: Path, exc: sqlite3.OperationalError, busy_timeout_s: float) -> str:
    """One line that says what went wrong with the file and what to do;
    ``busy_timeout_s``: how long SQLite waited for another program's lock."""
    text = str(exc)
    if "readonly" in text and writable(path) and (stuck := _read_only_beside(path)):
        names, one = " and ".join(p.name for p in stuck), len(stuck) == 1
        return (
            f"cannot write {path}: SQLite's {names} beside it "
            f"{'is' if one else 'are'} read-only (left by a read of the database while it "
            f"was read-only); make {'it' if one else 'them'} writable: chmod u+w "
            f"{' '.join(shlex.quote(str(p)) for p in stuck)} ({text})"
        )
    if "readonly" in text:
        return f"cannot write {path}: {_read_only_fix(path)} ({text})"
    if "full" in text or "disk I/O" in text:
        return (
            f"cannot write {path}: the disk is full or a file-size limit was reached "
            f"({text}); what was stored before is intact"
        )
    if "locked" in text or "busy" in text:
        return (
            f"{path} stayed locked by another program for {busy_timeout_s:.0f} s "
            f"({text}); is a long transaction open elsewhere?"
        )
    return f"cannot write {path}: {text}"


def access_denied(path: Path) -> str | None:
    """Why this user may not open ``path`` at all, or None: a folder on its way it may not
    enter, or a file it may not read (another user's private home, a file made under
    ``umask 077``). Python's stat raises PermissionError there (Python 3.12 says the file
    is missing), and SQLite's "unable to open database file" reads like a read-only one,
    whose fix (copy it elsewhere) cannot work."""
    try:
        mode = path.stat().st_mode
    except PermissionError:
        closed = next((p for p in reversed(path.parents) if not os.access(p, os.X_OK)), None)
        where = f"enter the folder {closed}" if closed is not None else "reach it"
        return (
            f"cannot open {path}: permission denied: this user may not {where} (another "
            "user's private folder?); ask its owner for access, or for a copy"
        )
    except OSError:
        return None  # not there yet (a new database), or refused with the checks that follow
    if stat.S_ISREG(mode) and not os.access(path, os.R_OK):
        return (
            f"cannot open {path}: permission denied: this user may not read it "
            f"(mode {stat.filemode(mode)}; another user's file?); ask its owner to make it "
            "readable (chmod a+r), or for a copy"
        )
    return None


def writable(path: Path) -> bool:
    """Whether this process may write the file and make files beside it (SQLite's -wal
    and -shm): not in a read-only file, folder or mount."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _read_only_fix(path: Path) -> str:
    """What is read-only and, for the file, the command that makes it writable, with the
    -wal and -shm a read left read-only beside it (:func:`_read_only_beside`): else the
    next write fails on them in turn. (A read-only folder is refused at opening.)"""
    if not os.access(path, os.W_OK):
        files = " ".join(shlex.quote(str(p)) for p in [path, *_read_only_beside(path)])
        return f"the file is read-only; make it writable to store anything: chmod u+w {files}"
    return "the file or its folder is read-only"


def _read_only_beside(path: Path) -> list[Path]:
    """SQLite's -wal and -shm of ``path`` that exist but this process may not write. A
    connection that reads a read-only database makes them with the file's mode and
    cannot remove them; once the file is writable again, every write still fails on them
    with SQLite's "attempt to write a readonly database"."""
    beside = (Path(f"{path}{end}") for end in ("-wal", "-shm"))
    return [p for p in beside if p.exists() and not os.access(p, os.W_OK)]

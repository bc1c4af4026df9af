"""Writing a file so that readers see the old content or the new, never half of it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")


def folder_problem(path: Path) -> str | None:
    """What keeps ``path`` from being written in its folder, or None: the folder does not
    exist, or it is a file (``-o results.csv/out.json``)."""
    folder = path.parent
    if folder.is_dir():
        return None
    problem = "is a file, not a folder" if folder.exists() else "does not exist"
    return f"the folder {folder} {problem}"


def write_replacing(path: str | Path, write: Callable[[IO[Any]], T], *, text: bool) -> T:
    """Call ``write`` with an open file whose content then becomes ``path``'s; returns
    what ``write`` returned.

    A regular file is written to a temporary file beside it, synced and renamed over it
    (atomic). A symlink is followed: the file it names is replaced, the link stays. A
    target that is not a regular file (``/dev/stdout``, a FIFO, a device) is written in
    place, since renaming over it would put a plain file where the device was."""
    target = Path(path)
    # asked of the path as given: /dev/stdout leads through /proc/self/fd/1 to a pipe
    # whose resolved name ("pipe:[1234]") is no file
    if target.exists() and not target.is_file():
        with open(target, "w" if text else "wb", **_options(text)) as stream:
            return write(stream)
    if target.is_symlink():
        target = target.resolve()
    return write_then_name(target, write, lambda _: target, text=text)[0]


def write_then_name(
    draft: Path, write: Callable[[IO[Any]], T], name: Callable[[T], Path], *, text: bool
) -> tuple[T, Path]:
    """Call ``write`` with a temporary file beside ``draft``, sync it, and rename it to
    ``name(what write returned)``: for a name that depends on the content (its hash,
    known only once written). Returns what ``write`` returned and the final path.

    Readers see the file named ``name(...)`` complete or not at all; if anything fails,
    the temporary file is removed."""
    # the name cut so that the temporary one fits where `draft`'s does (255 bytes)
    temp = draft.with_name(f".{draft.name[:100]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "w" if text else "wb", **_options(text)) as stream:
            result = write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        final = name(result)
        os.replace(temp, final)
        return result, final
    finally:
        with suppress(OSError):
            os.unlink(temp)


def _options(text: bool) -> dict[str, Any]:
    """``open``'s options for a file written as text (UTF-8, newlines as given) or bytes."""
    return {"encoding": "utf-8", "newline": ""} if text else {}

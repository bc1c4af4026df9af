"""Writing a file so that readers see the old content or the new, never half of it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")


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
    in_place = target.exists() and not target.is_file()
    if target.is_symlink() and not in_place:
        target = target.resolve()
    # the name cut so that the temporary one fits where `path`'s does (255 bytes)
    temp = target.with_name(f".{target.name[:100]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    options: dict[str, Any] = {"encoding": "utf-8", "newline": ""} if text else {}
    try:
        with open(target if in_place else temp, "w" if text else "wb", **options) as stream:
            result = write(stream)
            stream.flush()
            if not in_place:
                os.fsync(stream.fileno())
        if not in_place:
            os.replace(temp, target)
        return result
    finally:
        if not in_place:
            with suppress(OSError):
                os.unlink(temp)

"""The one thing Python 3.10's csv module cannot write, said plainly.

Before Python 3.11 the csv writer refuses a NUL character (``\\x00``) in any cell with
"need to escape, but no escapechar set", which names neither the cause nor a way out;
an ``escapechar`` would get it written, but would also double every backslash, which
other CSV readers then keep. Python 3.11 and newer write NUL as it is."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager

from hpotrack.errors import HpotrackError

NUL_MESSAGE = (
    "a text of this study holds a NUL character (\\x00), which Python 3.10's csv module "
    "cannot write: use --format json, or Python 3.11 or newer"
)


@contextmanager
def nul_explained() -> Iterator[None]:
    """Turn the csv module's NUL refusal (Python 3.10) into one :class:`HpotrackError`."""
    try:
        yield
    except csv.Error as error:
        if "need to escape" not in str(error):
            raise
        raise HpotrackError(NUL_MESSAGE) from None

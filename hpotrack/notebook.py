"""What hpotrack does in IPython and Jupyter: an error it raises on purpose is shown
without hpotrack's own frames, a figure's ``show()`` draws it in the notebook, and a run
from a notebook's cells records them as what ran it (:func:`cells`), not the kernel's
launcher.

A mistake such as reopening a study with another space showed some sixty lines of
hpotrack's internals above the one line that says what to do. IPython asks an exception
for its traceback through ``_render_traceback_`` (:class:`~hpotrack.errors.HpotrackError`
defines it): this module keeps the frames of the user's cells and functions, and all of
them under ``%xmode Verbose``. IPython is never imported here: without a running shell
there is nothing to do.
"""

from __future__ import annotations

import os
import sys
import traceback
from types import TracebackType
from typing import Any


def shell() -> Any | None:
    """The running IPython shell (a notebook's kernel, the ``ipython`` prompt), or None."""
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    return get_ipython() if callable(get_ipython) else None


def cells() -> dict[str, str] | None:
    """What is known of the IPython cells that run here, when code typed in a shell's
    cells runs (a notebook's kernel, the ``ipython`` prompt): ``{"notebook": its file}``
    when the kernel was told it (Jupyter Server's ``JPY_SESSION_NAME``, VS Code's
    ``__vsc_ipynb_file__``), else ``{}``. None elsewhere, and while the shell runs a
    script (``%run train.py``, ``ipython train.py``: ``__main__`` is that file, and
    ``sys.argv`` its command line)."""
    running = shell()
    if running is None or getattr(sys.modules.get("__main__"), "__file__", None):
        return None
    told = [os.environ.get("JPY_SESSION_NAME"), running.user_ns.get("__vsc_ipynb_file__")]
    notebook = next((n for n in told if isinstance(n, str) and n.endswith(".ipynb")), None)
    return {} if notebook is None else {"notebook": notebook}


def shows_images() -> bool:
    """Whether a shell runs that displays PNG images (a notebook; not the ``ipython``
    prompt in a terminal, which shows text only)."""
    running = shell()
    return running is not None and "image/png" in running.display_formatter.active_types


def rendered_traceback(exc: BaseException) -> list[str]:
    """The lines IPython shows for ``exc``: its traceback without hpotrack's frames
    (all of them under ``%xmode Verbose``), in the shell's own format and colours."""
    running = shell()
    if running is None:
        text = traceback.format_exception(type(exc), exc, without_own_frames(exc.__traceback__))
        return "".join(text).splitlines()
    formatter = running.InteractiveTB
    tb = exc.__traceback__
    if getattr(formatter, "mode", None) != "Verbose":
        tb = without_own_frames(tb)
    lines: list[str] = formatter.structured_traceback(type(exc), exc, tb)
    return lines


def without_own_frames(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` less the frames of hpotrack's own code; ``tb`` itself when that would
    leave none."""
    kept = [link for link in _links(tb) if not _is_own(link)]
    if not kept:
        return tb
    rebuilt = None
    for link in reversed(kept):
        rebuilt = TracebackType(rebuilt, link.tb_frame, link.tb_lasti, link.tb_lineno)
    return rebuilt


def _links(tb: TracebackType | None) -> list[TracebackType]:
    links = []
    while tb is not None:
        links.append(tb)
        tb = tb.tb_next
    return links


def _is_own(link: TracebackType) -> bool:
    """Whether the frame runs hpotrack's code: by its module's name, which also claims
    the ``__init__`` that ``dataclasses`` writes for a class of hpotrack (its file is
    ``<string>``)."""
    module = str(link.tb_frame.f_globals.get("__name__", ""))
    return module == "hpotrack" or module.startswith("hpotrack.")

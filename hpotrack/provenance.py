"""Where a trial ran and what code it ran: host, process, Python, git commit, source hash.

Recorded once per process and study (a row of ``runs``), not per trial: the cost per trial
stays constant (DESIGN principle 3), and each trial points at its run.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeGuard

from hpotrack.errors import DefinitionError
from hpotrack.notebook import cells as shell_cells
from hpotrack.text import utf8_text


@functools.cache
def hostname() -> str:
    return socket.gethostname()


# Names a script's module gets: run directly, re-run by a spawned worker, loaded by resume.
SCRIPT_MODULES = ("__main__", "__mp_main__", "__hpotrack_main__")


def function_reference(fn: Callable[..., Any]) -> dict[str, str | None]:
    """Enough to import ``fn`` again in another process: module, qualified name, file."""
    path = inspect.getsourcefile(fn) if _has_source(fn) else None
    module = getattr(fn, "__module__", None)
    if module in SCRIPT_MODULES:  # `python -m pkg.mod` runs pkg.mod as __main__: name it
        main = sys.modules.get(str(module))
        named = getattr(getattr(main, "__spec__", None), "name", None)
        same = path is not None and _same_file(getattr(main, "__file__", None), path)
        module = named if named and same and named not in SCRIPT_MODULES else "__main__"
    return {
        "module": module,
        "qualname": getattr(fn, "__qualname__", None),
        "path": str(Path(path).resolve()) if path and Path(path).exists() else None,
    }


def _same_file(a: str | None, b: str) -> bool:
    return a is not None and Path(a).resolve() == Path(b).resolve()


def callable_name(fn: Callable[..., Any]) -> str:
    """What messages call ``fn``: its qualified name; for a callable without one, that
    of a ``functools.partial``'s function, or of a callable object's class."""
    name = getattr(fn, "__qualname__", None)
    if isinstance(name, str):
        return name
    if isinstance(fn, functools.partial):
        return callable_name(fn.func)
    return type(fn).__qualname__


def described(fn: Callable[..., Any]) -> str:
    """``fn`` in a message about what it is: its qualified name, else
    ``functools.partial(train, ...)`` or ``an instance of Model``."""
    if isinstance(getattr(fn, "__qualname__", None), str):
        return callable_name(fn)
    if isinstance(fn, functools.partial):
        return f"functools.partial({callable_name(fn.func)}, ...)"
    return f"an instance of {callable_name(fn)}"


def default_study_name(fn: Callable[..., Any]) -> str:
    """``module.qualname``, the same however the module was started: a script's module
    is named after its file, not ``__main__``; ``python -m pkg.mod`` gives ``pkg.mod``, as
    ``import pkg.mod`` does. A callable without a name of its own (a
    ``functools.partial``, a callable object) is refused: its study needs ``study=``."""
    if not isinstance(getattr(fn, "__qualname__", None), str):
        raise DefinitionError(
            f"@hp.tune names a study after the function it decorates, and {described(fn)} "
            "has no name of its own: pass study='...' to @hp.tune"
        )
    module = getattr(fn, "__module__", None) or "unknown"
    if module in SCRIPT_MODULES:
        reference = function_reference(fn)
        if reference["module"] not in SCRIPT_MODULES:  # run with python -m
            module = str(reference["module"])
        else:
            module = Path(reference["path"]).stem if reference["path"] else "main"
    return f"{module}.{fn.__qualname__}"


def source_hash(fn: Callable[..., Any]) -> str | None:
    """SHA-256 of the function's source text, None when the source is not available."""
    try:
        source = inspect.getsource(fn)
    except Exception:  # no file, a builtin, or a file changed since import (TokenError)
        return None
    return hashlib.sha256(source.encode()).hexdigest()


GIT_STATE_TTL_S = 5.0  # a run that starts later than this reads the repository again
_git_states: dict[str, tuple[float, str | None]] = {}  # directory -> (when read, state)


def git_commit(directory: str) -> str | None:
    """The commit checked out in ``directory``'s repository (suffix ``+dirty`` if
    modified) when a run starts, read again once the last read is :data:`GIT_STATE_TTL_S`
    old: a notebook's process outlives its user's commits, and each run must name the
    code it ran (kept for the process, every later run named the first one's commit),
    while the runs of many studies started at once run git once."""
    now = time.monotonic()
    known = _git_states.get(directory)
    if known is not None and now - known[0] < GIT_STATE_TTL_S:
        return known[1]
    state = _read_git_state(directory)
    _git_states[directory] = (now, state)
    return state


def _read_git_state(directory: str) -> str | None:
    """``git rev-parse HEAD``, with ``+dirty`` when ``git status`` lists a tracked change;
    None outside a repository or without git."""
    try:
        commit = subprocess.run(
            ["git", "-C", directory, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", directory, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def run_provenance(fn: Callable[..., Any]) -> dict[str, Any]:
    """The ``runs`` row for this process running ``fn``."""
    path = function_reference(fn)["path"]
    return {
        "host": hostname(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(str(Path(path).parent)) if path else None,
        "source_hash": source_hash(fn),
        "argv": argv_text(sys.argv, _command, shell_cells() if _cells is None else _cells),
        "started": time.time(),
    }


# The command line that started this process when its script runs with other arguments
# (``hpotrack resume``, and its workers), and in a worker process, the IPython cells
# that ran its parent (:func:`hpotrack.notebook.cells`): set by :func:`started_by`.
_command: list[str] | None = None
_cells: dict[str, str] | None = None


@contextlib.contextmanager
def started_by(
    command: Sequence[str] | None, cells: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Runs registered inside record ``command`` as the command line that ran them, and
    ``sys.argv`` as the arguments their script was given: ``hpotrack resume`` replays
    the first run's arguments to the script, and its trials must not read as if that
    first command had run them. None: ``sys.argv`` is the command line. ``cells``: the
    IPython cells that ran them (a worker process's parent's)."""
    global _command, _cells
    saved = _command, _cells
    _command = None if command is None else list(command)
    _cells = None if cells is None else dict(cells)
    try:
        yield
    finally:
        _command, _cells = saved


def started_as() -> tuple[list[str] | None, dict[str, str] | None]:
    """The command set by :func:`started_by`, and the IPython cells that run here, for
    worker processes to record too (spawned, they run no shell)."""
    return _command, shell_cells() if _cells is None else _cells


def argv_text(
    argv: Sequence[str], command: Sequence[str] | None, cells: Mapping[str, str] | None = None
) -> str:
    """A run's ``argv`` column: ``sys.argv`` as a JSON list; for a run whose command
    gave its script other arguments, ``{"argv": command, "script_argv": sys.argv}``;
    for a run from IPython cells (:func:`hpotrack.notebook.cells`), whose ``sys.argv``
    is the shell's (a notebook kernel's launcher), ``{"argv": sys.argv, "ipython":
    cells}``. Exact, and ASCII (``json.dumps`` escapes), so a non-UTF-8 argument is
    stored too."""
    stored: dict[str, Any] = {}
    if command is not None and list(command) != list(argv):
        stored = {"argv": list(command), "script_argv": list(argv)}
    if cells is not None:
        stored = {"argv": list(argv), **stored, "ipython": dict(cells)}
    return json.dumps(stored or list(argv))


class StoredArgv(NamedTuple):
    """A run's ``sys.argv`` read back from the database: ``words``, the script's (what
    ``hpotrack resume`` gives it again); ``exact`` is False for a run stored before argv
    was kept as a JSON list (its words were split at spaces again); ``command``, the
    command line that ran the script with ``words`` when it was another one
    (``hpotrack resume``), else None; ``ipython``, for a run from IPython cells, what
    is known of them (:func:`hpotrack.notebook.cells`; ``words`` are then the shell's),
    else None."""

    words: list[str]
    exact: bool
    command: list[str] | None = None
    ipython: dict[str, str] | None = None


def stored_argv(text: str | None) -> StoredArgv:
    """A run's ``argv`` column (:func:`argv_text`): a JSON list of ``sys.argv``, a JSON
    object of the command and the script's ``sys.argv`` or of the shell's ``sys.argv``
    and its IPython cells, or, as stored before, the
    words joined by spaces. Those are split at spaces again, which gives them back
    exactly unless a word held a space (``shlex.split`` would also take quotes and
    backslashes for shell syntax, which they never were there). No row: no words."""
    if text is None:
        return StoredArgv([], exact=True)
    if text.startswith(("[", "{")):
        try:
            stored = json.loads(text)
        except ValueError:
            stored = None
        if _is_words(stored):
            return StoredArgv(stored, exact=True)
        if isinstance(stored, dict) and _is_words(command := stored.get("argv")):
            cells = stored.get("ipython")
            cells = cells if _is_cells(cells) else None
            script = stored.get("script_argv")
            if _is_words(script):
                return StoredArgv(script, exact=True, command=command, ipython=cells)
            if cells is not None:  # the shell's own argv: its script, as far as resume goes
                return StoredArgv(command, exact=True, ipython=cells)
    return StoredArgv(text.split(" "), exact=False)


def _is_cells(value: object) -> TypeGuard[dict[str, str]]:
    """Whether ``value`` read from JSON is what :func:`hpotrack.notebook.cells` gives."""
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _is_words(value: object) -> TypeGuard[list[str]]:
    """Whether ``value`` read from JSON is a list of words, as ``sys.argv`` is."""
    return isinstance(value, list) and all(isinstance(word, str) for word in value)


def script_arguments(reference: Mapping[str, Any], recorded: StoredArgv) -> list[str]:
    """The arguments a study's script was started with: its first run's ``argv[1:]``
    when that run's program was the script itself (``python train.py --data big``, or
    ``python -m pkg.train``, whose ``argv[0]`` is the module's file). None when another
    program imported the script (pytest, a notebook's kernel, a driver script): those
    arguments were that program's, not the script's."""
    path = reference.get("path")
    if not path or not recorded.words:
        return []
    program, script = Path(recorded.words[0]), Path(path)
    same = program.name == script.name and (
        not program.is_absolute() or program.resolve() == script.resolve()
    )
    return recorded.words[1:] if same else []


def script_argv(
    reference: Mapping[str, Any], recorded: StoredArgv, args: Sequence[str]
) -> list[str]:
    """``sys.argv`` to import a study's script with, and run it (``hpotrack resume``):
    its file (else the recorded first word, else this process's), then ``args``."""
    first = reference.get("path") or (recorded.words[0] if recorded.words else sys.argv[0])
    return [str(first), *args]


def shown_argv(text: str | None) -> str | None:
    """The command line that started a run (its ``argv`` column), to read or paste into
    a shell: ``hpotrack resume``'s for a resumed run (:func:`shown_script_argv` gives
    what its script was given). Words stored joined by spaces (before argv was a JSON
    list) are shown as stored."""
    if text is None:
        return None
    argv = stored_argv(text)
    if not argv.exact:
        return utf8_text(text)
    return _command_line(argv.words if argv.command is None else argv.command)


def shown_cells(text: str | None) -> str | None:
    """What ran a run from IPython cells (its ``argv`` column says so), in words: the
    notebook when its file is known; None for a run of a script."""
    cells = stored_argv(text).ipython
    if cells is None:
        return None
    notebook = cells.get("notebook")
    if notebook:
        return f"notebook {notebook} (its cells, in an IPython kernel)"
    return "IPython cells (a notebook's kernel, or the ipython prompt)"


def shown_script_argv(text: str | None) -> str | None:
    """The ``sys.argv`` a resumed run gave its script (the first run's arguments, or
    ``--args``) as a command line; None for a run whose command line was the script's."""
    argv = stored_argv(text)
    return None if argv.command is None else _command_line(argv.words)


def _command_line(words: Sequence[str]) -> str:
    """``words`` as a shell command line (``shlex.join``); an argument that was not
    UTF-8 shows its bytes escaped (``\\udce9``), which a terminal can print."""
    return utf8_text(shlex.join(words))


def _has_source(fn: Callable[..., Any]) -> bool:
    try:
        return inspect.getsourcefile(fn) is not None
    except (TypeError, OSError):  # OSError: a class typed in a notebook or `python -c`
        return False

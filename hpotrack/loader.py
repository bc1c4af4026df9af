"""Import a tuned function again from its recorded reference (module, qualname, file).

Worker processes and ``hpotrack resume`` use this. A script is loaded as a module under a
private name, so its ``if __name__ == "__main__":`` block does not run again.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import shlex
import sys
import sysconfig
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from hpotrack.errors import HpotrackError

SCRIPT_MODULE = "__hpotrack_main__"  # a script's name here (it was ``__main__`` when run)
IMPORTED_AGAIN = (
    "worker processes (n_jobs) and hpotrack resume import this script again, "
    'without running its `if __name__ == "__main__":` block'
)


class FunctionNotFound(HpotrackError):
    """The recorded function cannot be imported any more."""


class CalledWhileImported(HpotrackError):
    """The user's module calls ``optimize()`` or a tuned function at module level, so
    importing it to find the function (``hpotrack resume``, worker processes) would run
    that call again: another search, perhaps in another folder's database, or another
    manual trial."""


class FailedWhileImported(HpotrackError):
    """The user's module raised while it was imported to find the function (a syntax
    error, a file it reads at module level, ...): the fix is in its code, not in which
    function is imported."""


class ExitedWhileImported(HpotrackError):
    """The user's module exited (``sys.exit``, argparse's ``parse_args()`` refusing the
    arguments) while it was imported to find the function."""


_importing = threading.local()  # .depth: load_function calls under way in this thread


def refuse_while_imported(call: str) -> None:
    """Raise :class:`CalledWhileImported` when ``call`` (e.g. "optimize()") comes from a
    module :func:`load_function` is importing."""
    if getattr(_importing, "depth", 0):
        raise CalledWhileImported(call)


def load_function(reference: Mapping[str, Any]) -> Any:
    """The object at ``module:qualname`` (importing ``path`` if the module is a script)."""
    module_name = reference.get("module")
    qualname = reference.get("qualname")
    path = reference.get("path")
    if not module_name or not qualname:
        raise FunctionNotFound("the study did not record which function it tunes")
    _importing.depth = getattr(_importing, "depth", 0) + 1
    arguments: list[str] = []
    try:
        with _argv_of(path):
            arguments = sys.argv[1:]
            module = _module(str(module_name), path)
    except SystemExit as exc:
        given = f"the arguments {shlex.join(arguments)}" if arguments else "no arguments"
        raise ExitedWhileImported(
            f"{path or module_name} exited (SystemExit: {exc.code}) when imported with "
            f"{given} to find {qualname}, as hpotrack resume and worker processes import it: "
            'parse arguments under `if __name__ == "__main__":`, or give them defaults'
        ) from None
    except CalledWhileImported as exc:
        raise CalledWhileImported(
            f"{_user_line(exc, path)} calls {exc} at module level, so importing it to find "
            f"{qualname} (hpotrack resume and worker processes do) would run that again: "
            'put the call under `if __name__ == "__main__":`'
        ) from None
    finally:
        _importing.depth -= 1
    target: Any = module
    for part in str(qualname).split("."):
        if part == "<locals>":
            raise FunctionNotFound(
                f"{module_name}:{qualname} is defined inside another function, where no "
                "other process can import it: move it to module level"
            )
        if not hasattr(target, part):
            fix = main_block_fix(reference, f"define {part}") if target is module else ""
            raise FunctionNotFound(f"{module_name}:{qualname} cannot be found (no {part!r}){fix}")
        target = getattr(target, part)
    return target


def main_block_fix(reference: Mapping[str, Any], fix: str) -> str:
    """For a script's function, why importing the script again lacks what its run had
    (a function defined or decorated under ``if __name__ == "__main__":``) and ``fix``
    ("define train", say) to do at module level; empty for a module's function."""
    if reference.get("module") != "__main__" or not reference.get("path"):
        return ""
    return f": {IMPORTED_AGAIN}, so {fix} at module level, outside that block"


@contextlib.contextmanager
def _argv_of(path: str | None) -> Iterator[None]:
    """``sys.argv`` while the module at ``path`` is imported: the file alone, as if it
    ran without arguments, unless ``sys.argv`` already names it (a worker of
    ``python train.py --n 3`` sees what its parent saw; ``hpotrack resume`` sets the
    arguments of the study's first run with :func:`using_argv`). Module-level argparse
    would otherwise parse the command's own arguments (``hpotrack enqueue``'s), and exit."""
    argv = sys.argv
    if not path or (argv and Path(argv[0]).resolve() == Path(path)):
        yield
        return
    with using_argv([path]):
        yield


@contextlib.contextmanager
def using_argv(argv: Sequence[str]) -> Iterator[None]:
    """``sys.argv`` is ``argv`` inside, and as it was after. ``hpotrack resume`` gives a
    script the arguments it was started with this way while it imports and runs it:
    worker processes start with this ``sys.argv``, and :func:`_argv_of` keeps it for the
    script that ``argv[0]`` names."""
    saved = sys.argv
    sys.argv = list(argv)
    try:
        yield
    finally:
        sys.argv = saved


def _module(name: str, path: str | None) -> ModuleType:
    if name == "__main__":
        spawned = sys.modules.get("__mp_main__")  # multiprocessing already ran the script
        if (
            spawned is not None
            and path
            and getattr(spawned, "__file__", None)
            and Path(spawned.__file__ or "").resolve() == Path(path)
        ):
            return spawned
        if not path:  # a notebook cell, IPython, `python -c` or stdin: no file to import
            raise FunctionNotFound(
                "it was defined interactively (in a notebook, IPython, `python -c` or "
                "stdin), where no other process can import it: run optimize() again where "
                "it is defined, or move it to a file"
            )
        if not Path(path).exists():
            raise FunctionNotFound(
                f"the tuned function was defined in a script that no longer exists ({path})"
            )
        return _load_file(SCRIPT_MODULE, Path(path))
    try:
        return importlib.import_module(name)
    except CalledWhileImported:
        raise
    except ImportError as exc:
        if path and Path(path).exists():
            root = _package_root(name, Path(path))
            if root is not None and str(root) not in sys.path:  # run from its project
                sys.path.insert(0, str(root))  # (python -m pkg.mod there), resumed elsewhere
                return _module(name, path)
            return _load_file(name, Path(path))
        raise FunctionNotFound(f"cannot import module {name!r}: {exc}") from None
    except Exception as exc:  # the module's own code failed: say where, in one line
        raise FailedWhileImported(f"importing module {name!r} failed: {one_line(exc)}") from None


def _package_root(name: str, path: Path) -> Path | None:
    """The folder module ``name`` (``pkg.mod``) is importable from, given its file
    (``/proj/pkg/mod.py`` -> ``/proj``); None when the file's folders do not spell it."""
    parts = name.split(".")
    folders = path.with_suffix("").parts
    if len(parts) < 2 or tuple(folders[-len(parts) :]) != tuple(parts):
        return None
    return path.parents[len(parts) - 1]


def _load_file(name: str, path: Path) -> ModuleType:
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FunctionNotFound(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        # Ctrl-C, exits and a refused module-level call go on as they are
        if isinstance(exc, Exception) and not isinstance(exc, CalledWhileImported):
            raise FailedWhileImported(f"running {path} failed: {one_line(exc)}") from None
        raise
    return module


def _user_line(exc: Exception, path: str | None) -> str:
    """Where the user's code made the call: "line 12 of /proj/train.py"."""
    frame = _user_frame(exc)
    return f"line {frame.lineno} of {frame.filename}" if frame else str(path or "the module")


def one_line(exc: Exception) -> str:
    """An exception raised by user code (importing it; a method's ``ask`` in a worker
    process), as one line with the place in the user's code it came from: the innermost
    line of their files, not of Python's library (``<frozen codecs>`` for a file read
    with the wrong encoding, ``json/decoder.py`` for bad JSON) or hpotrack's; a syntax
    error's line and file."""
    name = type(exc).__name__
    if isinstance(exc, SyntaxError):
        return f"{name}: {exc.msg}{_at(exc.lineno, exc.filename)}"
    frames = traceback.extract_tb(exc.__traceback__)
    frame = _user_frame(exc) or (frames[-1] if frames else None)
    return f"{name}: {exc}{_at(frame.lineno, frame.filename) if frame else ''}"


def _at(line: int | None, filename: str | None) -> str:
    """`` (line 3 of /proj/train.py)``, or what of it is known."""
    if line is None:
        return f" (in {filename})" if filename else ""
    return f" (line {line} of {filename})" if filename else f" (line {line})"


def _user_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of ``exc``'s traceback in the user's code: not hpotrack's,
    nor Python's own or installed packages' (its standard library, site-packages,
    frozen modules)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if _users_file(frame.filename):
            return frame
    return None


def _users_file(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen codecs>, <string>
        return False
    resolved = Path(filename).resolve()
    return not any(folder in resolved.parents for folder in _library_folders())


@functools.cache
def _library_folders() -> tuple[Path, ...]:
    """hpotrack's folder and Python's: its standard library and where packages install."""
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    paths = sysconfig.get_paths()
    found = {Path(paths[name]).resolve() for name in names if name in paths}
    return (Path(__file__).resolve().parent, *sorted(found))

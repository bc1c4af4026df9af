"""The package's public names (``hpotrack/__init__.py``)."""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack import errors


def test_every_public_name_exists() -> None:
    assert [name for name in hp.__all__ if not hasattr(hp, name)] == []


def test_the_errors_a_user_catches_are_top_level_and_hpotrack_errors() -> None:
    caught = ["NoCompleteTrial", "SpaceError", "StudyMismatchError", "StudyNotFoundError"]
    caught += ["TooManyFailures", "TrialError", "HpotrackError"]
    for name in caught:
        assert getattr(hp, name) is getattr(errors, name)
        assert issubclass(getattr(hp, name), hp.HpotrackError)
    defined = {
        n for n, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    }
    assert defined >= set(caught)
    assert hp.errors is errors


def test_the_default_messages_go_to_the_stderr_of_the_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default handler kept the ``sys.stderr`` of the import: ``redirect_stderr``
    (and pytest's ``capsys``) did not see hpotrack's messages."""
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a script: not pytest's
    redirected = io.StringIO()
    with contextlib.redirect_stderr(redirected):
        logging.getLogger("hpotrack").warning("study 's': a message")
    assert redirected.getvalue() == "[hpotrack] study 's': a message\n"


def test_plots_is_there_without_importing_it_and_import_stays_light() -> None:
    """``hp.plots.history(study)`` after ``import hpotrack as hp`` was an AttributeError;
    ``import hpotrack`` itself imports neither the plots nor matplotlib."""
    code = (
        "import sys, hpotrack as hp\n"
        "assert 'hpotrack.plots' not in sys.modules and 'matplotlib' not in sys.modules\n"
        "print(hp.plots.__name__, hp.plots.history.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "hpotrack.plots history\n", done.stderr
    with pytest.raises(AttributeError, match=r"^module 'hpotrack' has no attribute 'plotz'$"):
        hp.plotz  # noqa: B018 - the attribute access is the test


def test_every_public_name_and_what_its_classes_offer_has_a_docstring() -> None:
    """``help(hp.Study)`` showed ``name``, ``direction``, ``objective``, ``seed`` and
    ``db_path`` with nothing said, as ``help(hp.Budget)`` its ``to_json``; a user's editor
    shows the same blanks on hover."""
    undocumented = [name for name in hp.__all__ if not inspect.getdoc(getattr(hp, name))]
    for name in hp.__all__:
        owner = getattr(hp, name)
        if not inspect.isclass(owner):
            continue
        for attr in dir(owner):
            found = inspect.getattr_static(owner, attr)
            code = found.fget if isinstance(found, property) else found
            code = getattr(code, "__func__", code)  # a classmethod's function
            if attr.startswith("_") or not inspect.isfunction(code):
                continue
            if not code.__module__.startswith("hpotrack"):  # Enum's, say
                continue
            if not inspect.getdoc(getattr(owner, attr)):
                undocumented.append(f"{name}.{attr}")
    assert undocumented == []


def test_no_getattr_hides_a_misspelt_name_from_type_checkers() -> None:
    """A ``__getattr__`` a type checker sees types every missing name as Any: with the
    module's (for ``hp.plots`` and other libraries' names), ``hp.Flaot(0, 1)`` and
    ``hp.load_sudy(...)`` passed ``mypy --strict`` and pyright unflagged. Each one must be
    defined under ``if not TYPE_CHECKING:``, as those of Study and Trial are."""
    package = Path(hp.__file__).parent
    seen = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hidden = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test) == "not TYPE_CHECKING"
            for node in ast.walk(block)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
                seen.append((path.relative_to(package).as_posix(), id(node) in hidden))
    assert ("__init__.py", True) in seen
    assert [name for name, hidden in seen if not hidden] == []


HEAVY = ("scipy", "matplotlib", "pandas", "sklearn")
"""Libraries whose modules take a tenth of a second or more to import, needed by some
methods, the plots or ``to_dataframe`` only."""

READ_ONLY_METHODS = [
    "hpotrack.methods.base",
    "hpotrack.methods.check_index",
    "hpotrack.methods.configurations",
    "hpotrack.methods.history",
    "hpotrack.methods.registry",
    "hpotrack.methods.sorted_views",
]
"""The modules of :mod:`hpotrack.methods` that reading a study needs: no method's own."""


def imported_by(code: str, *args: str) -> list[str]:
    """The heavy libraries and method modules a new Python process has imported after
    running ``code`` (with ``args`` as ``sys.argv[1:]``); ``code``'s output is dropped."""
    report = (
        "\nimport sys\n"
        f"sys.__stdout__.write(repr(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{HEAVY!r} or m.startswith('hpotrack.methods.'))))\n"
    )
    script = "import contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n"
    script += "".join(f"    {line}\n" for line in code.splitlines()) + report
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found: list[str] = ast.literal_eval(done.stdout)
    return found


def test_import_hpotrack_imports_no_method_until_it_is_used() -> None:
    """``import hpotrack`` (and ``hpotrack.cli``) imported every method's module (19 of
    its 83) for a script or command that only reads a study. A method's class
    imports its module, and only its own (with what it uses)."""
    assert imported_by("import hpotrack, hpotrack.cli") == READ_ONLY_METHODS
    code = "import hpotrack as hp\nhp.methods.TPE(gamma=0.2)\n"
    assert imported_by(code) == sorted([*READ_ONLY_METHODS, "hpotrack.methods.parzen",
                                        "hpotrack.methods.tpe"])  # fmt: skip
    code = "from hpotrack.methods import SHA\nassert SHA.name == 'sha'\n"
    assert "hpotrack.methods.sha" in imported_by(code)

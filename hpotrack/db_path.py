"""Where a study's database is: ``db=`` (``--db``), else ``$HPOTRACK_DB``, else
``./hpotrack.db``; a URL in their place (Optuna's ``storage="sqlite:///x.db"``) is an
error naming the path to pass."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path

from hpotrack.errors import StorageError

DEFAULT_DB = "hpotrack.db"


def default_db_path(db: str | Path | None = None) -> Path:
    """``db`` if given, else ``$HPOTRACK_DB``, else ``./hpotrack.db`` (``~`` expanded).
    A URL (``sqlite:///x.db``, Optuna's ``storage=``) is an error naming the path to pass."""
    if db is not None:
        if isinstance(db, str):
            refuse_url(db, "db=", lambda path: f"db={path!r}")
            _refuse_blank(db, "db=")
        return Path(db).expanduser()
    env = os.environ.get("HPOTRACK_DB")
    if env:  # set but empty is unset, as shells treat it
        refuse_url(env, "HPOTRACK_DB", lambda path: f"HPOTRACK_DB={shlex.quote(path)}")
        _refuse_blank(env, "HPOTRACK_DB")
    return Path(env or DEFAULT_DB).expanduser()


def _refuse_blank(db: str, name: str) -> None:
    """Raise :class:`StorageError` for a path of blanks: ``Path("")`` is the working folder,
    and ``" "`` a database file named by a space (the CLI refuses both too)."""
    if not db.strip():
        raise StorageError(f"{name} is blank: it must name a database file, e.g. {DEFAULT_DB}")


_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+)://(.*)", re.DOTALL)  # 2+ letters: not C://


def refuse_url(db: str, name: str, spell: Callable[[str], str]) -> None:
    """Raise :class:`StorageError` if ``db`` is a URL (an SQLAlchemy one, as Optuna's
    ``storage=`` takes) rather than a file path: a path would make it a folder ``sqlite:``.
    ``name`` is the setting as the user wrote it (``db=``, ``--db``); ``spell(path)``
    the setting with a value, for the fix: the path a ``sqlite://`` URL names
    (:func:`sqlite_url_path`)."""
    match = _URL.fullmatch(db)
    if match is None:
        return
    scheme, path = match.group(1), sqlite_url_path(db)
    if path is None:  # no credentials in the message
        raise StorageError(
            f"{name} got a {scheme}:// URL, but {name} is a file path, not a URL: hpotrack "
            f"keeps a study in one SQLite file, e.g. {spell(DEFAULT_DB)}"
        )
    if path in ("", ":memory:"):
        raise StorageError(
            f"{spell(db)} is the URL of an in-memory database, but {name} is a file path, "
            "not a URL: a study lives in a file that its processes and the CLI share; for a "
            "throwaway study pass a path in a temporary folder"
        )
    raise StorageError(
        f"{spell(db)} is a URL, but {name} is a file path, not a URL: use {spell(path)}"
    )


def sqlite_url_path(text: str) -> str | None:
    """The path an SQLite URL names (``sqlite:///x.db``: ``x.db``; ``sqlite:////abs/x.db``:
    ``/abs/x.db``, the path after the third slash, as SQLAlchemy reads it; "" or
    ``:memory:`` for an in-memory database); None for text that is no SQLite URL."""
    match = _URL.fullmatch(text)
    if match is None or match.group(1).lower().partition("+")[0] != "sqlite":
        return None
    rest = match.group(2)
    return (rest[1:] if rest.startswith("/") else rest).partition("?")[0]  # sqlite://x.db too


def is_url(text: str) -> bool:
    """Whether ``text`` is a URL (``scheme://...``, a scheme of 2 letters or more: not
    ``C://``) rather than a file path."""
    return _URL.fullmatch(text) is not None

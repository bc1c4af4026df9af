"""What an import reads, whoever asks (``hpotrack import FILE``, ``hp.import_study``): an
hpotrack export (json or jsonl), an Optuna database or journal file, or an
``optuna.Study`` object; and, for an Optuna study, the space and decorator that continue
it in hpotrack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpotrack.constraints import Constraint
from hpotrack.db_path import default_db_path
from hpotrack.store import open_store
from hpotrack.study import Study
from hpotrack.transfer.export import is_regular_file, is_sqlite_file
from hpotrack.transfer.format import TransferError
from hpotrack.transfer.load import import_checked
from hpotrack.transfer.parse import read_export
from hpotrack.transfer.validate import validate_export

log = logging.getLogger("hpotrack")

OptunaReader = Callable[[Path, "str | None"], dict[str, Any]]


def read_source(source: object, from_study: str | None) -> tuple[dict[str, Any], bool]:
    """The export ``source`` gives, and whether it is an Optuna study's: ``source`` a
    path (``-``: standard input) or an ``optuna.Study``; ``from_study`` chooses the study
    of an Optuna file that holds several."""
    from hpotrack.transfer.optuna_object import is_optuna_study, read_optuna_object  # they
    # import the methods, which `import hpotrack` leaves for their first use

    if is_optuna_study(source):
        if from_study is not None:
            raise TransferError(
                "from_study= chooses a study of an Optuna file; an optuna.Study object is one"
            )
        return read_optuna_object(source), True
    if not isinstance(source, str | Path):
        raise TransferError(
            "an import reads a file (an hpotrack export, an Optuna database or journal) or "
            f"an optuna.Study, but got {type(source).__name__}"
        )
    path = Path(source)
    optuna = None if str(source) == "-" else optuna_reader(path)
    if from_study is not None and optuna is None:
        raise TransferError(
            f"--from (from_study=) chooses a study of an Optuna database or journal, and "
            f"{source} is neither; --study NAME (study=) names the new study"
        )
    return (read_export(path) if optuna is None else optuna(path, from_study)), optuna is not None


def optuna_reader(file: Path) -> OptunaReader | None:
    """What reads ``file`` as an Optuna storage (its database or journal file), None for
    any other file; another SQLite file (an hpotrack database, say) is refused."""
    from hpotrack.transfer import optuna_db, optuna_journal  # they import the methods

    if is_sqlite_file(file):
        if not optuna_db.is_optuna_database(file):
            raise TransferError(
                f"{file} is an SQLite database but not Optuna's: `hpotrack import` reads "
                "json and jsonl exports (hpotrack export STUDY) and Optuna databases; an "
                f"hpotrack database's studies are read where they are (hpotrack --db {file} show)"
            )
        return optuna_db.read_optuna_database
    if is_regular_file(file) and optuna_journal.is_optuna_journal(file):
        return optuna_journal.read_optuna_journal
    return None


def import_study(
    source: object,
    *,
    study: str | None = None,
    db: str | Path | None = None,
    from_study: str | None = None,
) -> Study:
    """Load ``source`` into a new study of ``db`` (default ``$HPOTRACK_DB``, else
    ``./hpotrack.db``) and return it, as ``hpotrack import`` does: an hpotrack export
    (json or jsonl file), an Optuna database or journal file (``from_study`` names the
    study when it holds several), or an ``optuna.Study`` object (in memory too).
    ``study`` names the new study (default: the source's name). For an Optuna study, the
    decorator that continues it is logged (see docs/optuna.md)."""
    data, from_optuna = read_source(source, from_study)
    try:
        checked = validate_export(data, study)
    except TransferError as exc:  # about the file's content: name the file
        where = "an optuna.Study" if from_optuna and not isinstance(source, str | Path) else source
        raise TransferError(f"{where}: {exc}") from None
    imported = import_checked(open_store(default_db_path(db)), checked)
    if from_optuna:
        log.info(
            "imported Optuna study %r as %r%s",
            data["study"]["name"],
            imported.name,
            continuation(imported, imported.db_path),
        )
    return imported


def continuation(study: Study, db: Path) -> str:
    """The space and decorator that continue an imported Optuna study, as Python to paste
    into the ported script: the space a reopening must declare, inferred from Optuna's
    distributions, is the one thing a user cannot read off their Optuna code."""
    params = "".join(f"    {name!r}: hp.{param!r},\n" for name, param in study.space.items())
    options = [f"study={study.name!r}", f"db={str(db)!r}"]
    if len(study.objectives) > 1:  # several: each named, each with its direction
        options += [f"objective={study.objectives!r}", f"direction={study.directions!r}"]
    else:
        if study.direction != "minimize":
            options.append(f"direction={study.direction!r}")
        if study.objective != "value":
            options.append(f"objective={study.objective!r}")
    if study.constraints:  # reopening checks them as it checks the objectives
        options.append(f"constraints=[{', '.join(map(_constraint_code, study.constraints))}]")
    return (
        "\nto go on with it in hpotrack, declare this space (method= may be any):\n\n"
        f"space = {{\n{params}}}\n\n@hp.tune(space, {', '.join(options)})"
    )


def _constraint_code(constraint: Constraint) -> str:
    """``hp.Constraint('constraint_0', at_most=0.0)``: the constraint as Python."""
    bounds = [
        f"{name}={bound!r}"
        for name, bound in (("at_least", constraint.at_least), ("at_most", constraint.at_most))
        if bound is not None
    ]
    return f"hp.Constraint({constraint.metric!r}, {', '.join(bounds)})"

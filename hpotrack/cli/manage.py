"""``hpotrack enqueue`` and ``hpotrack delete``: queue exact trials, remove a study."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from hpotrack.cli.common import CliError, cli, study_of, user_errors
from hpotrack.errors import HpotrackError, SpaceError, StudyNotFoundError, UnknownMethodError
from hpotrack.loader import load_function, using_argv
from hpotrack.param_input import to_float, to_int
from hpotrack.provenance import script_arguments, script_argv, stored_argv
from hpotrack.records import TrialState
from hpotrack.space import Choice, Int, Param, Space, Value
from hpotrack.study import Study
from hpotrack.text import plural

SET_ASIDE = ".deleted-"
"""How the name of a deleted study's checkpoint folder starts while ``hpotrack delete``
removes it: no study's folder starts with a dot (:meth:`hpotrack.store.Store.checkpoint_dir`),
and nothing lists the checkpoint root as studies."""


@cli.command()
@click.argument("study")
@click.argument("assignments", nargs=-1, metavar="[NAME=VALUE]...")
@click.option(
    "--skip-if-exists",
    is_flag=True,
    help="Queue nothing when a trial already has these values (any state).",
)
@click.pass_context
@user_errors
def enqueue(
    ctx: click.Context, study: str, assignments: tuple[str, ...], skip_if_exists: bool
) -> None:
    """Queue a trial with the given hyperparameters.

    Give hyperparameters as NAME=VALUE, e.g. lr=1e-3 layers=2 opt=adam; those left
    out are drawn at random from the space. A conditional one (when=) that the values
    leave inactive is left out (kernel=linear, no gamma), and one given needs its parent
    (gamma=0.1 kernel=rbf); the active ones left out are drawn. The queued trial runs
    before anything the method proposes, the next time the study is optimized or
    resumed below its target (at its target, raise it: hpotrack resume STUDY --n-trials
    N; a queued trial counts once it starts).
    """
    opened = study_of(ctx, study)
    values = parse_assignments(opened.space, assignments)
    _import_method(opened)
    enqueued = opened.enqueue_once(values, skip_if_exists=skip_if_exists)
    if not enqueued.queued:
        click.echo(f"study {opened.name!r} already has trial {enqueued.number} with these values")
        return
    queued = opened.trial(enqueued.number).params  # without what it leaves inactive
    drawn = [name for name in queued if name not in values]
    note = f" ({', '.join(drawn)} drawn at random)" if drawn else ""
    click.echo(f"enqueued trial {enqueued.number} in study {opened.name!r}{note}")


def _import_method(study: Study) -> None:
    """Register the study's method where its own code registers it
    (``@hp.methods.register``), importing the function the study recorded as
    ``hpotrack resume`` does (with the arguments of the study's first run): whether the
    method runs queued trials is the class's to say."""
    try:
        study.method  # noqa: B018 - built once, cached
    except UnknownMethodError:
        recorded = stored_argv(study.store.first_run_argv(study.id))
        try:
            arguments = script_arguments(study.function, recorded)
            with using_argv(script_argv(study.function, recorded, arguments)):
                load_function(study.function)
        except HpotrackError as exc:  # the script moved, or calls optimize() when imported
            raise CliError(
                f"cannot tell whether study {study.name!r} runs queued trials: its method "
                f"{study.method_name!r} is one its own code registers, and importing that "
                f"failed: {exc}; queue the trial from Python where that code is imported "
                "(study.enqueue({...}))"
            ) from None


def parse_assignments(space: Space, assignments: Sequence[str]) -> dict[str, Value]:
    """``name=value`` texts -> values typed by the space, for the names given; one
    :class:`SpaceError` if not. Ranges and grids are left to ``Space.validate``
    (``Study.enqueue`` calls it)."""
    texts: dict[str, str] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        # a name may hold "=": the longest one the space has ("a=b=0.5" gives a=b 0.5)
        cuts = [i for i, c in enumerate(item) if c == "=" and item[:i] in space]
        if cuts:
            name, text = item[: cuts[-1]], item[cuts[-1] + 1 :]
        if not sep or not name:
            raise SpaceError(
                f"hyperparameters are given as NAME=VALUE, but got {item!r}; e.g. "
                f"{' '.join(f'{n}=...' for n in space)}"
            )
        if name in texts:
            raise SpaceError(
                f"hyperparameter {name!r} is given twice ({name}={texts[name]} and {item}): "
                "give it once"
            )
        texts[name] = text
    space.check_names(texts, partial=True)
    return {name: parse_value(name, space[name], texts[name]) for name in space if name in texts}


def parse_value(name: str, param: Param, text: str) -> Value:
    """One value from its command-line text, by the parameter's type: a number is read
    as the number it writes, then checked as one given in Python is
    (:mod:`hpotrack.param_input`: ``3.0`` is the integer 3, ``2.5`` no integer, ``nan``
    refused), with the same messages; a Choice's option by :func:`_option`."""
    if isinstance(param, Choice):
        return _option(name, param, text)
    number = _number(text)
    return to_int(number, name) if isinstance(param, Int) else to_float(number, name)


def _number(text: str) -> int | float | str:
    """The number ``text`` writes: an int when it is one (exact past 2**53), else a
    float; the text itself when it writes none, for the checks to refuse by name."""
    for read in (int, float):
        try:
            return read(text)
        except ValueError:  # not that kind of number, or more digits than int() reads
            pass
    return text


def _option(name: str, param: Choice, text: str) -> Value:
    """The option written as ``text``: its JSON first ("64", "true", "null", '"1"'), then
    its ``str()`` ("True", "None"; a string option wins), then an equal number ("64.0")."""
    options = list(param.options)
    for option in options:
        if json.dumps(option) == text:
            return option
    by_str = [o for o in options if str(o) == text]
    if by_str:
        return next((o for o in by_str if isinstance(o, str)), by_str[0])
    try:
        return param.validate(json.loads(text))
    except (ValueError, SpaceError, RecursionError):
        pass
    close = difflib.get_close_matches(text, [str(o) for o in options], n=1)
    hint = f"; did you mean {name}={close[0]}?" if close else ""
    raise SpaceError(  # the options as the command line writes them
        f"{name}={text!r} is not one of the options "
        f"{', '.join(json.dumps(o) for o in options)}{hint}"
    )


@cli.command()
@click.argument("study")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@click.pass_context
@user_errors
def delete(ctx: click.Context, study: str, yes: bool) -> None:
    """Delete STUDY and everything recorded for it.

    Its trials, metrics, lineage, runs and checkpoint files; asks first unless --yes.
    """
    opened = study_of(ctx, study)
    store = opened.store
    history = opened.refresh()
    if not yes:
        running = history.count(TrialState.RUNNING)
        note = f" ({running} still running)" if running else ""
        question = (
            f"Delete study {opened.name!r} with {plural(len(history.trials), 'trial')}"
            f"{note} from {store.path}?"
        )
        try:
            sure = click.confirm(question, default=False, err=True)
        except (click.Abort, RuntimeError):  # end of input, or none at all (<&-)
            click.echo("no answer on standard input: pass --yes to delete without asking", err=True)
            sure = False
        except UnicodeDecodeError as exc:  # bytes that are not text in its encoding
            click.echo(
                f"the answer on standard input is not {exc.encoding} text: answer y or n, "
                "or pass --yes to delete without asking",
                err=True,
            )
            sure = False
        if not sure:
            click.echo("aborted", err=True)
            ctx.exit(1)
    deleted = _delete_rows(opened)
    for path in deleted.leftovers:  # best effort: what stays is no study's folder
        shutil.rmtree(path, ignore_errors=True)
    context = f"deleted study {opened.name!r} from {store.path}, but could not remove its"
    if deleted.unmoved is not None:
        raise CliError(f"{context} checkpoints at {deleted.folder}: {deleted.unmoved}")
    if deleted.aside is not None:
        _remove_folder(deleted.aside, f"{context} checkpoints (moved to {deleted.aside})")
    click.echo(f"deleted study {opened.name!r} ({plural(deleted.trials, 'trial')})")


@dataclass(frozen=True)
class _Deleted:
    """A study whose rows are deleted, and where its checkpoint files are to be removed
    from: ``aside`` (None: it had no folder), unless moving ``folder`` there failed
    (``unmoved``); ``leftovers``: folders earlier deletes set aside and left."""

    trials: int
    folder: Path
    aside: Path | None
    unmoved: OSError | None
    leftovers: list[Path]


def _delete_rows(study: Study) -> _Deleted:
    """Delete the study's rows, and in the same transaction move its checkpoint folder
    aside (:func:`_set_aside`): if the transaction does not commit, the folder goes back."""
    store = study.store
    folder = store.checkpoint_dir(study.name)
    commits = store.commits
    aside: Path | None = None
    unmoved: OSError | None = None
    try:
        with store.write():
            row = store.find_study(study.name)
            if row is None:
                raise StudyNotFoundError(f"study {study.name!r} was deleted meanwhile")
            trials = len(study.refresh().trials)
            leftovers = _left_aside(store.checkpoint_root)
            store.delete_study(row.id)
            try:
                aside = _set_aside(folder, store.checkpoint_root)
            except OSError as exc:  # another user's: rmtree could not remove it either
                unmoved = exc
    except BaseException:
        if aside is not None and store.commits == commits:  # the study stays: its files too
            with contextlib.suppress(OSError):
                os.rename(aside, folder)
        raise
    return _Deleted(trials, folder, aside, unmoved, leftovers)


def _set_aside(folder: Path, root: Path) -> Path | None:
    """Move the study's checkpoint ``folder`` to a name in ``root`` that no study's
    folder has (:data:`SET_ASIDE`); returns where, or None when there is no folder (a
    link to one is not the study's to remove). Called in the transaction that deletes
    the study's rows, whose write lock keeps any process from creating a study of the
    same name meanwhile: the folder that name leads to after the commit (made anew by
    that study, or by a worker of the deleted one still saving) is never removed."""
    if not stat.S_ISDIR(_mode(folder)):
        return None
    aside = root / f"{SET_ASIDE}{secrets.token_hex(8)}"
    os.rename(folder, aside)
    return aside


def _left_aside(root: Path) -> list[Path]:
    """The folders earlier deletes set aside and did not remove (killed after their
    commit); listed inside the write transaction, where every folder set aside is one
    whose study's rows are deleted. None when ``root`` cannot be listed."""
    try:
        return [path for path in root.iterdir() if path.name.startswith(SET_ASIDE)]
    except OSError:
        return []


def _remove_folder(folder: Path, context: str) -> None:
    """Remove ``folder``, a study's checkpoint folder set aside (no process writes into
    it: a worker's file still being written there can no longer be named); another
    delete may be removing it too (:func:`_left_aside`). A folder this user may not
    empty (another user's files) fails as rmtree would, with the ``context`` said first."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        if os.path.lexists(folder):
            shutil.rmtree(folder)
    except OSError as exc:
        raise CliError(f"{context}: {exc}") from None


def _mode(path: Path) -> int:
    """The ``st_mode`` of ``path`` itself (not of what a link leads to), 0 if there is
    none; PermissionError where this user may not look (``Path.is_dir`` raises it on
    Python 3.11 but calls it False on 3.12: the folder would stay without a word)."""
    try:
        return path.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return 0

"""``hpotrack export`` and ``hpotrack import``: a study to a file and back (hpotrack.transfer)."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import click

from hpotrack.cli.common import FileName, cli, format_option, study_of, user_errors
from hpotrack.progress import Counter
from hpotrack.store import open_store
from hpotrack.text import plural
from hpotrack.transfer import (
    FORMATS,
    TransferError,
    export_to_file,
    import_checked,
    refuse_a_database,
    validate_export,
    write_export,
)
from hpotrack.transfer.sources import continuation, read_source


@cli.command()
@click.argument("study")
@format_option(FORMATS, default="json")
@click.option(
    "-o",
    "--output",
    type=FileName(dir_okay=False),
    default=None,
    help="Write to FILE (atomically) instead of stdout ('-': stdout).",
)
@click.pass_context
@user_errors
def export(ctx: click.Context, study: str, fmt: str, output: Path | None) -> None:
    """Export STUDY as json, jsonl or csv.

    json and jsonl carry everything (definition, trials, curves, lineage) and can be loaded
    back with `hpotrack import`: json indented, each curve point [step, value, time] on a
    line of its own; jsonl compact, a trial per line. csv is one row per trial, params and
    metrics flattened (a parameter the trial left inactive is a blank cell, the Choice
    option None reads None).
    Without --format, a file named .csv, .jsonl or .json gets that format (another
    ending needs --format), and stdout gets json. Checkpoint
    files are not exported: an imported study's promotions and retries train from
    scratch.
    """
    opened = study_of(ctx, study)
    if output is not None and str(output) == "-":
        output = None
    named = "" if output is None else output.suffix.lower().lstrip(".")
    chosen = ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT
    if output is not None and named and named not in FORMATS and not chosen:
        refuse_a_database(output, opened, fmt)  # the graver mistake first: -o hpotrack.db
        raise TransferError(
            f"cannot tell the export format of {output}: name it .json, .jsonl or .csv, "
            "or choose one with --format (json, jsonl, csv)"
        )
    if named in FORMATS and named != fmt:
        if chosen:
            raise TransferError(
                f"--format {fmt} but {output} is named .{named}: name the file .{fmt}, "
                f"or leave --format out to write {named}"
            )
        fmt = named
    if output is not None and _is_standard_output(output):
        output = None  # /dev/stdout: no "exported ..." line after the export
    with Counter(f"export {fmt}", 2 * len(opened.trials)) as progress:  # convert, write
        if output is None:
            buffer = io.StringIO()
            write_export(opened, fmt, buffer, progress.advance)
        else:
            count = export_to_file(opened, fmt, output, progress.advance)
    if output is None:
        click.echo(buffer.getvalue(), nl=False)
        return
    click.echo(f"exported {plural(count, 'trial')} of study {opened.name!r} to {output}")


def _is_standard_output(path: Path) -> bool:
    """Whether ``path`` is this process's standard output (``-o /dev/stdout``), where the
    line that says where the export went would follow the export itself."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # no such file; no descriptor (a test's)
        return False


@cli.command("import")
@click.argument("file", type=FileName())
@click.option(
    "--study",
    "name",
    metavar="NAME",
    default=None,
    help="Name of the new study (default: as exported).",
)
@click.option(
    "--from",
    "source",
    metavar="NAME",
    default=None,
    help="The study to import from an Optuna database or journal (needed when it holds several).",
)
@click.pass_context
@user_errors
def import_(ctx: click.Context, file: Path, name: str | None, source: str | None) -> None:
    """Load a json or jsonl export FILE ('-': standard input), or a study of an Optuna
    database or journal FILE, into a new study.

    The study keeps the exported name unless --study gives another; the database file is
    created if needed. Trials that were running when exported are imported as failed,
    and retried as lost ones are. Checkpoint files do not travel with an export.

    An Optuna database (storage="sqlite:///optuna.db") or journal file
    (JournalFileBackend("journal.log")) is read as it is, without Optuna: the space comes
    from the distributions of its trials (a parameter set in only some trials is
    conditional on the choice that tells them apart), each trial keeps its number,
    state, params, value, intermediate values and numeric user attributes, and trials
    waiting in Optuna's queue are queued. Optuna does not store its sampler: the study's
    method is tpe until the decorator that continues it says otherwise, and its seed is
    drawn (hpotrack show prints it). A study of several objectives keeps them all, named
    by study.set_metric_names or else values_0, values_1, ... The import prints the
    space and the @hp.tune line that continue the study, to paste into the ported
    script.
    """
    data, from_optuna = read_source(file, source)
    trials = data.get("trials")
    total = 2 * len(trials) if isinstance(trials, list) else 0  # check, write
    with Counter("import", total) as progress:
        try:  # before a database file is created; not again on import (a second of a big file)
            checked = validate_export(data, name, progress.advance)
        except TransferError as exc:  # about the file's content: name the file
            where = "standard input" if str(file) == "-" else str(file)
            raise TransferError(f"{where}: {exc}") from None
        store = open_store(ctx.obj)
        imported = import_checked(store, checked, progress.advance)
    count = len(trials) if isinstance(trials, list) else 0
    retried = len(imported.trials) - count  # of trials running when exported
    again = f"; {plural(retried, 'trial')} running when exported queued again" if retried else ""
    of = f" of Optuna study {data['study']['name']!r}" if from_optuna else ""
    click.echo(
        f"imported {plural(count, 'trial')}{of} into study {imported.name!r} ({store.path}){again}"
    )
    if from_optuna:
        click.echo(continuation(imported, store.path))

"""``hpotrack resume``: continue a study by importing its function again.

The study recorded its function's module, qualified name and file. A script is loaded as a
module under a private name, so its ``if __name__ == "__main__":`` block does not run.
Trials whose worker died are marked failed and retried by the first ask.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hpotrack.cli.common import (
    DB_OPTION,
    CliError,
    FiniteNumber,
    PositiveNumber,
    WholeNumber,
    cli,
    quantity,
    stop_flags,
    study_of,
    user_errors,
)
from hpotrack.errors import HpotrackError, MethodChangeRefused, StudyMismatchError
from hpotrack.limits import Stops, from_stored, stored
from hpotrack.lineage import best_result
from hpotrack.loader import (
    CalledWhileImported,
    ExitedWhileImported,
    FailedWhileImported,
    FunctionNotFound,
    load_function,
    main_block_fix,
    using_argv,
)
from hpotrack.provenance import script_arguments, script_argv, started_by, stored_argv
from hpotrack.records import TrialState
from hpotrack.run_checks import checked_stops
from hpotrack.study import Study
from hpotrack.text import Rewording, plural
from hpotrack.time_limit import check_trial_timeout_can_run

if TYPE_CHECKING:
    from hpotrack.tune import TunedFunction

# the library's hints name optimize()'s arguments; resume takes them as options
OPTION_NAMES = {
    "pass a larger n_trials": "pass a larger --n-trials",
    "pass a larger max_budget": "pass a larger --max-budget",
    "the max_budget of": "the --max-budget of",
    "max_budget counts": "--max-budget counts",
    "pass a larger patience": "pass a larger --patience",
    "the patience of": "the --patience of",
    "as good as good_enough=": "as good as --good-enough ",
    "pass a better good_enough": "pass a better --good-enough",
    "trial_timeout stops a trial": "--trial-timeout stops a trial",
    "but got trial_timeout=": "but got --trial-timeout ",
    "leave trial_timeout None": "leave --trial-timeout out",
    "a longer trial_timeout": "a longer --trial-timeout",
    "stop by n_trials or timeout": "stop by --n-trials or --timeout",
    "call optimize() from the main thread, or with n_jobs=2 or more": (
        "run hpotrack resume from the main thread, or with --jobs 2 or more"
    ),
}
WORDING = Rewording({**DB_OPTION, **OPTION_NAMES})


@cli.command()
@click.argument("study")
@click.option(
    "--n-trials",
    type=WholeNumber(0),
    default=None,
    help="Study-wide target (default: the stored one).",
)
@click.option(
    "--jobs", type=WholeNumber(1, 256), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--timeout",
    type=PositiveNumber(),
    default=None,
    help="Stop starting trials after this many seconds.",
)
@click.option(
    "--max-budget",
    type=PositiveNumber(),
    default=None,
    help="Stop starting trials once the study's trials trained this many budget steps "
    "(e.g. epochs) in total.",
)
@click.option(
    "--patience",
    type=WholeNumber(1),
    default=None,
    help="Stop starting trials once this many complete trials finished after the "
    "study's best one without improving on it.",
)
@click.option(
    "--good-enough",
    type=FiniteNumber(),
    default=None,
    metavar="VALUE",
    help="Stop starting trials once a complete trial's objective is at least this good.",
)
@click.option(
    "--trial-timeout",
    type=PositiveNumber(),
    default=None,
    metavar="SECONDS",
    help="Stop a trial that runs longer than this and store it as failed.",
)
@click.option(
    "--no-stops",
    "no_stops",
    is_flag=True,
    help="Leave out the stops of the study's last run (used unless given here: "
    "--max-budget, --patience, --good-enough, --trial-timeout).",
)
@click.option(
    "--function",
    "function",
    default=None,
    metavar="MODULE:NAME",
    help="Where the tuned function lives now (module:name or path/to/file.py:name).",
)
@click.option(
    "--args",
    "script_args",
    default=None,
    callback=lambda ctx, param, text: _shell_words(text, param),
    metavar="TEXT",
    help="Arguments to give the script (its sys.argv[1:]) instead of those the study's "
    "first run was started with, split as a shell splits them ('' for none).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: on a terminal).",
)
@click.pass_context
@user_errors
def resume(
    ctx: click.Context,
    study: str,
    n_trials: int | None,
    jobs: int,
    timeout: float | None,
    max_budget: float | None,
    patience: int | None,
    good_enough: float | None,
    trial_timeout: float | None,
    no_stops: bool,
    function: str | None,
    script_args: list[str] | None,
    progress: bool | None,
) -> None:
    """Continue STUDY toward its stored target (or --n-trials).

    The stops of the study's last run (--max-budget, --patience, --good-enough,
    --trial-timeout, as optimize() or resume was given them) apply again, unless given
    here or left out with --no-stops. The script is imported, and run, with the
    arguments the study's first run gave it (python train.py --data big: --data big),
    or with those of --args.
    """
    opened = study_of(ctx, study)
    given = Stops(max_budget, patience, good_enough, trial_timeout)
    stops = given if no_stops else _with_last_stops(opened, given)
    reference = _reference(function) if function else opened.function
    recorded = stored_argv(opened.store.first_run_argv(opened.id))
    args = script_arguments(reference, recorded) if script_args is None else script_args
    # imported, run, in workers with the script's arguments; its runs record this command
    with started_by(sys.argv), using_argv(script_argv(reference, recorded, args)):
        tuned = _tuned_function(opened, reference)
        _check_last_stops(opened.name, tuned, _taken(stops, given), jobs)
        if script_args is None and args:
            click.echo(_arguments_line(args, recorded.exact), err=True)
        result = _run(
            ctx,
            opened,
            tuned,
            n_trials=n_trials,
            jobs=jobs,
            timeout=timeout,
            stops=stops,
            progress=progress,
            moved=function is not None,
        )
    click.echo(_summary(result))


def _with_last_stops(study: Study, given: Stops) -> Stops:
    """``given``, each stop left out taken from the study's last run, saying which."""
    stops = from_stored({**stored(study.last_stops), **stored(given)})
    taken = _taken(stops, given)
    if taken:
        click.echo(
            f"resuming with the stops of the study's last run: {stop_flags(taken)} (flags "
            "give others; --no-stops leaves them out)",
            err=True,
        )
    return stops


def _taken(stops: Stops, given: Stops) -> dict[str, float]:
    """The stops of ``stops`` taken from the study's last run (those not ``given``)."""
    return {name: value for name, value in stored(stops).items() if getattr(given, name) is None}


def _check_last_stops(
    study: str, tuned: TunedFunction, taken: Mapping[str, float], jobs: int
) -> None:
    """Refuse the stops ``taken`` from the last run as the run would (a ``max_budget``
    the function declares no budget for now, a ``trial_timeout`` off the main thread),
    saying they are the last run's and that --no-stops leaves them out: refused by the
    run, they read as flags the user had passed, with no way around them."""
    if not taken:
        return
    last = from_stored(taken)
    try:
        checked_stops(
            last.max_budget,
            last.patience,
            last.good_enough,
            last.trial_timeout,
            study,
            tuned.definition,
        )
        if last.trial_timeout is not None:
            check_trial_timeout_can_run(in_workers=jobs > 1)
    except HpotrackError as exc:
        raise CliError(
            f"the stops of the last run of study {study!r} cannot be used now "
            f"({stop_flags(taken)}): {WORDING.reword(str(exc))}; --no-stops leaves them out"
        ) from None


def _shell_words(text: str | None, param: click.Parameter) -> list[str] | None:
    """--args split into arguments as a POSIX shell splits them (``shlex.split``); a
    text that cannot be split is one usage error saying why, not a traceback. None:
    not given."""
    if text is None:
        return None
    try:
        return shlex.split(text)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        raise click.BadParameter(
            f"{text!r} cannot be split into arguments as a shell splits them: {str(exc).lower()}",
            param=param,
        ) from None


def _arguments_line(args: list[str], exact: bool) -> str:
    """What resume says when it gives the script the arguments of the first run."""
    how = "" if exact else " (stored by an older hpotrack: split at spaces)"
    return (
        f"resuming with the arguments of the study's first run{how}: {shlex.join(args)} "
        "(--args gives others)"
    )


def _run(
    ctx: click.Context,
    opened: Study,
    tuned: TunedFunction,
    *,
    n_trials: int | None,
    jobs: int,
    timeout: float | None,
    stops: Stops,
    progress: bool | None,
    moved: bool,
) -> Study:
    """Run the study as optimize() would, its errors said in resume's words; ``moved``:
    the function is the one --function names."""
    study = opened.name
    ends = timeout is not None or stops.may_end_the_search
    if n_trials is None and opened.target is None and not ends:
        # a study run with optimize(max_budget=...) stores no target: name that option too
        steps = "" if opened.budget is None else f", --max-budget in {opened.budget.name}"
        click.echo(
            f"study {study!r} has no stored target: running until the method is "
            f"exhausted or Ctrl-C (pass --n-trials to set one{steps}, or --patience "
            "in trials without improvement)",
            err=True,
        )
    try:
        with _option_names():
            result = tuned.run_study(
                study=opened.name,
                db=opened.db_path,
                n_trials=n_trials,
                timeout=timeout,
                n_jobs=jobs,
                progress=progress,
                max_budget=stops.max_budget,
                patience=stops.patience,
                good_enough=stops.good_enough,
                trial_timeout=stops.trial_timeout,
            )
    except KeyboardInterrupt:
        click.echo(
            f"Interrupted; any trial the interruption stopped runs again first. Continue "
            f"with: hpotrack resume {shlex.quote(opened.name)}",
            err=True,
        )
        ctx.exit(130)  # what a shell reports for Ctrl-C
    except MethodChangeRefused as exc:  # says which option to keep: in the script
        raise CliError(str(exc)) from None
    except StudyMismatchError as exc:  # its advice (another name, delete) is for scripts
        where = "--function" if moved else "the recorded function"
        raise CliError(
            f"{where} declares study {study!r} differently from the stored one: "
            f"{'; '.join(exc.differences)}; point --function at the function the study "
            "was run with"
        ) from None
    except HpotrackError as exc:  # refused before running (max_budget without a budget)
        raise CliError(WORDING.reword(str(exc))) from None
    return result


@contextlib.contextmanager
def _option_names() -> Iterator[None]:
    """While the study runs (here, and in the worker processes of --jobs N, whose
    messages this process says), its log messages name resume's options."""
    logger = logging.getLogger("hpotrack")
    logger.addFilter(WORDING)
    try:
        yield
    finally:
        logger.removeFilter(WORDING)


def _reference(text: str) -> dict[str, Any]:
    location, _, name = text.rpartition(":")
    if not location or not name:
        raise CliError(f"--function takes module:name or path/to/file.py:name, got {text!r}")
    if location.endswith(".py"):
        path = Path(location).resolve()
        if not path.exists():
            raise CliError(f"--function: no file {location}")
        return {"module": "__main__", "qualname": name, "path": str(path)}
    return {"module": location, "qualname": name, "path": None}


def _tuned_function(study: Study, reference: dict[str, Any]) -> TunedFunction:
    from hpotrack.tune import tuned_function

    where = f"{reference.get('module')}:{reference.get('qualname')}"
    if reference.get("path"):
        where += f" in {reference['path']}"
    if str(reference.get("module")).startswith("hpotrack.sklearn."):  # SearchCV's trials
        raise CliError(
            f"study {study.name!r} was run by hpotrack.sklearn.SearchCV, and only the "
            "process that fit it had its data: continue it by fitting "
            f"SearchCV(..., study={study.name!r}) again on the same data (and db=), "
            "which runs the study on to its n_trials"
        )
    if not reference.get("path") and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would: --function mod:name from here
    try:
        tuned = tuned_function(load_function(reference), study.name)
    except (CalledWhileImported, FailedWhileImported) as exc:  # the fix is in the file
        raise CliError(f"cannot resume study {study.name!r}: {exc}") from None
    except ExitedWhileImported as exc:  # in the file, or the arguments
        raise CliError(
            f"cannot resume study {study.name!r}: {exc}; or pass the script others with --args"
        ) from None
    except FunctionNotFound as exc:
        raise CliError(
            f"cannot import the function of study {study.name!r} ({where}): {exc}; "
            "pass --function module:name or path/to/file.py:name"
        ) from None
    if tuned is None:
        fix = main_block_fix(reference, "apply @hp.tune to it")
        raise CliError(
            f"{where} is not decorated with @hp.tune{fix}; {'or ' if fix else ''}pass "
            "--function to the right one"
        )
    return tuned


def _summary(study: Study) -> str:
    """The study after the run in one line: trials by state, steps trained, the best."""
    history = study.refresh()
    counts = ", ".join(
        f"{history.count(state)} {state.value}" for state in TrialState if history.count(state)
    )
    if history.n_replaced:
        retries = "a retry" if history.n_replaced == 1 else "retries"
        counts += f", {history.n_replaced} of them replaced by {retries}"
    best = best_result(history.trials, history.best, study.direction)
    best_text = (
        "no complete trial" if best is None else f"best {best.value:.6g} (trial {best.number})"
    )
    if study.optimizing.is_multi and best is not None:
        best_text = f"{plural(len(study.best_trials), 'trial')} on the Pareto front"
    elif best is None and history.count(TrialState.COMPLETE) and study.optimizing.constrained:
        # only a feasible trial can be best
        best_text = f"none meets the constraints ({study.optimizing.describe_constraints()})"
    trained = ""
    if study.budget is not None:
        trained = f"; {quantity(history.trained, study.budget.unit)} trained"
    trials = plural(len(history.trials), "trial")
    return f"study {study.name!r}: {trials} ({counts}){trained}; {best_text}"

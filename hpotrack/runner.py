"""The run loop: ask -> run the user's function -> tell, until a target, a timeout or the end.

The loop never looks at which method is searching: everything method-specific arrives as a
proposal from :meth:`Study.ask`. Several processes run this same loop against one study.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

from hpotrack.errors import StopSearch, TargetReached, TooManyFailures
from hpotrack.progress import ProgressBar
from hpotrack.records import TrialState
from hpotrack.recovery import heartbeat_for
from hpotrack.study import Claimed, Study, Worker
from hpotrack.trial import Pruned, Trial, running

log = logging.getLogger("hpotrack")


@dataclass(frozen=True)
class Outcome:
    """How one trial ended, as it will be stored."""

    state: TrialState
    value: float | None
    metrics: dict[str, Any]
    error: str | None = None
    returned: Any = None  # the function's raw return value (a manual call hands it back)


def run_trial(study: Study, fn: Callable[..., Any], claimed: Claimed, worker: Worker) -> Outcome:
    """Run ``fn`` on a claimed trial and record how it ended.

    Ctrl-C (or any exit that is not an ``Exception``) marks the trial failed and is
    re-raised, so the database stays consistent whatever stops the process.
    """
    trial = Trial(
        store=study.store,
        trial_id=claimed.trial_id,
        number=claimed.number,
        params=claimed.params,
        budget=claimed.budget,
        objective=study.objective,
        study=study.name,
    )
    kwargs: dict[str, Any] = dict(claimed.params)
    if wants_trial(fn):
        kwargs["trial"] = trial
    heartbeat = heartbeat_for(study.db_path)
    heartbeat.add(claimed.trial_id)
    try:
        with running(trial):
            result = fn(**kwargs)
        outcome = dataclasses.replace(parse_result(result, study.objective), returned=result)
    except Pruned:
        outcome = Outcome(TrialState.PRUNED, trial.last_value, {})
    except Exception:
        outcome = Outcome(TrialState.FAILED, None, {}, traceback.format_exc())
    except KeyboardInterrupt:
        study.tell(claimed, TrialState.FAILED, None, {}, "interrupted (KeyboardInterrupt)")
        raise
    except BaseException as exc:
        study.tell(claimed, TrialState.FAILED, None, {}, f"interrupted ({exc!r})")
        raise
    finally:
        heartbeat.discard(claimed.trial_id)
    study.tell(claimed, outcome.state, outcome.value, outcome.metrics, outcome.error)
    return outcome


def wants_trial(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` declares a parameter named ``trial``."""
    try:
        return "trial" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def parse_result(result: object, objective: str) -> Outcome:
    """Turn what the function returned into an outcome; bad values fail the trial."""
    if isinstance(result, Mapping):
        metrics = {str(k): v for k, v in result.items()}
        if objective not in metrics:
            keys = ", ".join(map(repr, metrics)) or "none"
            return Outcome(
                TrialState.FAILED,
                None,
                metrics,
                f"the function returned a dict without the objective {objective!r} "
                f"(keys: {keys}); return it, or set objective= to one of the keys",
            )
        value = metrics[objective]
    else:
        value = result
        metrics = {objective: result}
    if isinstance(value, bool) or not isinstance(value, Real):
        return Outcome(
            TrialState.FAILED,
            None,
            metrics,
            f"the objective {objective!r} must be a number, but the function returned "
            f"{value!r} ({type(value).__name__})",
        )
    number = float(value)
    if not math.isfinite(number):
        return Outcome(
            TrialState.FAILED,
            None,
            metrics,
            f"the objective {objective!r} is {value!r}: return a finite number "
            "(a large penalty for a diverged run)",
        )
    return Outcome(TrialState.COMPLETE, number, metrics)


def optimize_here(
    study: Study,
    fn: Callable[..., Any],
    worker: Worker,
    *,
    n_trials: int | None,
    timeout: float | None,
    max_failures: int,
    progress: bool | None,
) -> int:
    """Run trials in this process until a stop condition; returns how many it ran."""
    limit = n_trials if n_trials is not None else study.target
    deadline = None if timeout is None else time.monotonic() + timeout
    failures: list[str] = []
    ran = 0
    with ProgressBar(study, limit, enabled=progress) as bar:
        while deadline is None or time.monotonic() < deadline:
            try:
                claimed = study.ask(worker, limit)
            except StopSearch as stop:
                log.info("%s%s", stop, "" if ran else _nothing_to_run(stop))
                break
            outcome = run_trial(study, fn, claimed, worker)
            ran += 1
            bar.update()
            if outcome.state is not TrialState.FAILED:
                failures.clear()
                continue
            log.warning("trial %d failed: %s", claimed.number, _last_line(outcome.error))
            failures.append(outcome.error or "")
            if len(failures) >= max_failures:
                raise TooManyFailures(
                    f"{len(failures)} trials in a row failed in study {study.name!r}; "
                    f"stopping so you can look. The first one failed with:\n{failures[0]}"
                )
        else:
            log.info("timeout of %ss reached in study %r after %d trials", timeout, study.name, ran)
    return ran


def _nothing_to_run(stop: StopSearch) -> str:
    if isinstance(stop, TargetReached):
        return "; nothing to run (pass a larger n_trials to extend the study)"
    return "; nothing to run"


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""

"""The handles a study gives each trial it runs (:meth:`hpotrack.study.Study.checks_for`,
:meth:`hpotrack.study.Study.checkpoints_for`): how the trial consults its method at check
steps (:class:`hpotrack.trial.Checks`), and how it saves checkpoints and finds the one it
starts from (:class:`hpotrack.trial.Checkpoints`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hpotrack import checkpoints
from hpotrack.claims import Claimed
from hpotrack.records import Edge
from hpotrack.trial import MetricRow

if TYPE_CHECKING:
    from hpotrack.cache import TrialCache
    from hpotrack.study import Study

log = logging.getLogger("hpotrack")


class TrialChecks:
    """A running trial's line to its method: where its next check is, and the decision
    there (see :meth:`Study.check`). Held by :class:`hpotrack.trial.Trial`; it reads the
    study's ``cache`` as it is (no database read: the check itself refreshes), with the
    study in use (:meth:`~hpotrack.study_reader.StudyReader.in_use`): the trial may
    report from another thread than the one asking and telling through the study."""

    def __init__(self, study: Study, cache: TrialCache, claimed: Claimed) -> None:
        self._study = study
        self._cache = cache
        self._claimed = claimed

    def next_check(self, step: int) -> int | None:
        with self._study.in_use():
            history = self._cache.history
            record = history.trials[self._claimed.number]
            return self._study.method.next_check(record, step, history)

    def check_step(self, due: int, step: int) -> int:
        with self._study.in_use():
            history = self._cache.history
            record = history.trials[self._claimed.number]
            return self._study.method.check_step(record, due, step, history)

    def decide(self, step: int, value: float, reports: Sequence[MetricRow]) -> bool:
        return self._study.check(self._claimed, step, value, reports)


class TrialCheckpoints:
    """A running trial's checkpoints: saving its own, finding the one it starts from
    (through its lineage: :func:`hpotrack.checkpoints.source_edge`)."""

    def __init__(self, study: Study, claimed: Claimed) -> None:
        self._study = study
        self._claimed = claimed

    def save(self, step: int, obj: object, reports: Sequence[MetricRow]) -> None:
        """Save ``obj`` at ``step``, and the trial's ``reports`` not yet written."""
        study, claimed = self._study, self._claimed
        study.refresh()  # a deleted study is an error here, not a file nobody owns
        checkpoints.save(
            study.store, study.name, claimed.trial_id, claimed.number, step, obj, reports
        )
        study.checkpoints_saved += 1

    def store(self, reports: Sequence[MetricRow]) -> None:
        """Write the trial's ``reports`` now (those of a step its checkpoint holds)."""
        store = self._study.store
        with store.write():
            if store.trial_exists(self._claimed.trial_id):  # its study may be deleted
                store.add_metrics(self._claimed.trial_id, reports)

    def source(self) -> tuple[int, Any] | None:
        """(step, object) of the checkpoint this trial starts from, if there is one; None
        (it starts from scratch, with a warning) when none is stored or its file is gone."""
        study = self._study
        trials = study.refresh().trials
        edge = checkpoints.source_edge(trials[self._claimed.number])
        if edge is None:
            return None
        found = checkpoints.stored_line_state(study.store, study.id, trials, edge.parent, edge.step)
        if found is not None and not (study.store.checkpoint_root / found.path).is_file():
            # deleted by hand (to free space, say): failing would fail every try of it
            self._warn_missing(
                edge, f"the file of its checkpoint, {found.path}, is gone: it starts from scratch"
            )
            return None
        if found is None:
            if checkpoints.any_saved(study.store, study.id):
                self._warn_missing(
                    edge,
                    "no checkpoint of that trial's line at or before that step is stored: it "
                    "starts from scratch (save before reporting a step: report() raises "
                    "hp.Pruned at the rung that stops a trial, so a save after it never "
                    "runs; or the files were deleted, or the study was imported, as "
                    "exports leave checkpoints out)",
                )
            return None
        return found.step, checkpoints.load(study.store, found)

    def _warn_missing(self, edge: Edge, why: str) -> None:
        """Say, once per study and process, that a trial starts from scratch instead of
        the checkpoint its lineage names."""
        study = self._study
        if study.warned_missing_checkpoint:
            return
        study.warned_missing_checkpoint = True
        log.warning(
            "trial %d of study %r continues trial %d at step %s (%s), but %s",
            self._claimed.number,
            study.name,
            edge.parent,
            edge.step,
            edge.kind,
            why,
        )

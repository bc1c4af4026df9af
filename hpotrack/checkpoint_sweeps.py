"""Deleting a study's checkpoint files that nothing needs: those a process killed while
saving left behind, which nothing names, and the checkpoints no trial can start from any
more (what :meth:`hpotrack.study.Study.remove_stray_checkpoint_files` and
:meth:`~hpotrack.study.Study.collect_checkpoints` do).

Which files those are is :mod:`hpotrack.checkpoints`'s to say; this module reads the trials
for it inside the study's write transaction (``writing``: the study's own, which keeps its
cached trials equal to the database), so that no trial starts and saves meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, TypeAlias

from hpotrack import checkpoints

if TYPE_CHECKING:
    from hpotrack.study import Study

Writing: TypeAlias = Callable[[], AbstractContextManager[None]]
"""A study's write transaction (:meth:`hpotrack.study.Study._writing`)."""


def remove_stray(study: Study, writing: Writing) -> int:
    """Delete the files in ``study``'s checkpoint folder that nothing names and no
    running trial may still be writing (see :func:`hpotrack.checkpoints.stray_files`);
    returns how many went. Trials whose worker is gone are marked lost first, so the
    files of one killed mid-save go now, not a run later. A folder this process may not
    look into (another user's) is a :class:`StorageError` saying so: it stops a run
    before its trials."""
    store = study.store
    folder = store.checkpoint_dir(study.name)
    try:
        if not folder.is_dir():
            return 0
        with writing():
            history = study.refresh()
            if study.recover_lost():
                history = study.refresh()
            stray = checkpoints.stray_files(store, study.name, study.id, history.trials)
            for path in stray:
                path.unlink(missing_ok=True)
    except OSError as exc:
        raise checkpoints.unusable_folder(
            store, folder, "look for unfinished checkpoint files", exc
        ) from None
    return len(stray)


def collect(study: Study, writing: Writing) -> int:
    """Delete ``study``'s checkpoints that nothing can load any more (see
    :func:`hpotrack.checkpoints.unneeded`): their rows in the transaction, their files
    after it; returns how many went."""
    store = study.store
    with writing():
        history = study.refresh()
        resumable = study.method.resumable(history)
        garbage = checkpoints.unneeded(store, study.id, history.trials, resumable)
        checkpoints.forget(store, garbage)
    checkpoints.delete_files(store, garbage)
    return len(garbage)

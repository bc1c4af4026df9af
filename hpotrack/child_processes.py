"""Ending the processes a worker's trials left running, as the worker exits.

joblib keeps its pool of processes waiting 300 s for more work. A script run with
``n_jobs=1`` ends them as it exits (joblib's exit hook), but a multiprocessing worker
first waits for its children, and runs that hook only after: each worker waited the
300 s before it exited, and for ever for a child that never ends by itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import time

log = logging.getLogger("hpotrack")

GRACE_S = 5.0
"""How long the children have, together, to end on SIGTERM before they are killed:
half of the 10 s the parent gives stopped workers (``workers.STOP_GRACE_S``), so that a
worker being stopped still stores its trial, ends its children and exits in time."""


def end_child_processes() -> None:
    """End this process's children (SIGTERM, as ``Process.terminate()``), and kill those
    still running after :data:`GRACE_S` (SIGKILL), saying so with each one's pid: a child
    that ignores SIGTERM (``signal.signal(SIGTERM, SIG_IGN)``, a handler that goes on)
    kept its worker waiting for ever. A forked child ends on SIGTERM as it would without
    hpotrack (:mod:`hpotrack.signal_handlers`)."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    deadline = time.monotonic() + GRACE_S  # shared: each child waited 10 s in turn
    for child in children:
        child.join(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.is_alive():
            log.warning(
                "process %s, started by a trial, did not end within %g s of SIGTERM: "
                "killed it (SIGKILL)",
                child.pid,
                GRACE_S,
            )
            child.kill()
            child.join()

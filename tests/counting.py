"""Counting the work a call does instead of timing it (tests do not time things)."""

from __future__ import annotations

from collections.abc import Callable

from hpotrack.store import Store


def sqlite_steps(store: Store, call: Callable[[], object]) -> int:
    """SQLite virtual-machine instructions ``call()`` runs on ``store``'s connection: the
    rows its queries read, whatever the machine's speed."""
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    store.conn.set_progress_handler(step, 1)
    try:
        call()
    finally:
        store.conn.set_progress_handler(None, 0)
    return steps[0]

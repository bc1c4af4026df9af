"""``sha`` against the shared multi-fidelity method suite."""

from __future__ import annotations

from hpotrack.methods.base import Method
from hpotrack.methods.sha import SHA
from hpotrack.testing.method_suite import MultiFidelitySuite


class TestSHA(MultiFidelitySuite):
    def make_method(self) -> Method:
        return SHA()

from __future__ import annotations

import pytest

from hpotrack.errors import SearchExhausted
from hpotrack.methods import Manual, Method
from hpotrack.methods.history import History
from hpotrack.testing import MethodSuite
from hpotrack.testing.method_suite import MIXED_SPACE


class TestManual(MethodSuite):
    proposes = False

    def make_method(self) -> Method:
        return Manual()


def test_manual_says_how_to_add_trials() -> None:
    with pytest.raises(SearchExhausted, match="enqueue"):
        Manual().ask(History(MIXED_SPACE, "minimize", 0))

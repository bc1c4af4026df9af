"""Shared test suites: what every search method must satisfy (needs pytest), and the
in-memory driver they run methods with (:mod:`hpotrack.testing.driver`, which does not:
benchmarks use it without pytest installed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpotrack.testing.driver import simulate

if TYPE_CHECKING:
    from hpotrack.testing.method_suite import MethodSuite

__all__ = ["MethodSuite", "simulate"]

if not TYPE_CHECKING:  # a __getattr__ type checkers saw would type every misspelt name Any

    def __getattr__(name: str) -> Any:
        """``MethodSuite`` is imported on first use: it needs pytest, ``simulate`` does not."""
        if name == "MethodSuite":
            from hpotrack.testing.method_suite import MethodSuite

            return MethodSuite
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

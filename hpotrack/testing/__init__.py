"""Shared test suites: what every search method must satisfy (needs pytest)."""

from __future__ import annotations

from hpotrack.testing.method_suite import MethodSuite, simulate

__all__ = ["MethodSuite", "simulate"]

"""Tests of :mod:`hpotrack.integrations`, one module per library."""

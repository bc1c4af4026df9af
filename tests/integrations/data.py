"""Small real data for the boosting callbacks' tests: scikit-learn's breast cancer set
(569 rows, 30 features), split once."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import hpotrack as hp


def _split() -> tuple[Any, Any, Any, Any]:
    features, labels = load_breast_cancer(return_X_y=True)
    parts = train_test_split(features, labels.astype(np.float64), test_size=0.3, random_state=0)
    return parts[0], parts[1], parts[2], parts[3]


X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = _split()

SPACE = {"lr": hp.Float(0.005, 0.5, log=True), "leaves": hp.Int(4, 16)}
"""Learning rate and tree size: slow ones stay near chance for rounds, fast ones fit."""


def curve_of(study: hp.Study, number: int, metric: str) -> list[tuple[int, float]]:
    """Trial ``number``'s stored reports of ``metric``: (step, value), by step."""
    return [(step, value) for step, value in study.curve(number).get(metric, [])]

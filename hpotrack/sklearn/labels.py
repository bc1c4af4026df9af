"""Choices of objects a study cannot store: a pipeline step's estimator
(``{"scaler": [StandardScaler(), MinMaxScaler()]}``), tuples (``hidden_layer_sizes``),
dicts (``class_weight``). A ``GridSearchCV`` grid lists them; a study stores plain values
(text, numbers, None), so each such option is stored as a label, its ``repr``
(``"StandardScaler()"``, ``"(50, 50)"``), which ``hpotrack show`` prints, and the
estimator gets the object back.

A label must be the same in every process that fits the study (a study continued, or
shared by several processes, compares its stored space with the one it is given): so
memory addresses are left out of it (``<function square at 0x7f...>`` is
``<function square>``, a lambda ``<function <lambda>>``), and estimators are written
as scikit-learn writes them by default (only their changed parameters), whatever the
process's ``sklearn.set_config(print_changed_only=...)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import config_context

from hpotrack.space import Space

PLAIN = (type(None), bool, int, float, str, np.generic)
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
"""Where a ``repr`` names an object's memory address, which differs between processes."""


@dataclass(frozen=True)
class LabelledSpace:
    """``space`` as the study stores it, and per labelled parameter its options by label."""

    space: Mapping[str, object] | Space
    options: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    def objects(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """A trial's stored parameters with each label replaced by its option."""
        return {
            name: self.options[name][value] if name in self.options else value
            for name, value in stored.items()
        }


def labelled(space: Mapping[str, object] | Space) -> LabelledSpace:
    """The space with each list that has an option other than a plain value (the
    shorthand of a Choice) made a list of labels, one per option."""
    if isinstance(space, Space) or not isinstance(space, Mapping):
        return LabelledSpace(space)  # hp.Space, or what hp.tune will refuse, saying why
    stored: dict[str, object] = {}
    options: dict[str, dict[str, object]] = {}
    for name, value in space.items():
        if isinstance(value, list) and not all(isinstance(x, PLAIN) for x in value):
            labels = _labels(value)
            stored[name] = labels
            options[name] = dict(zip(labels, value, strict=True))
        else:
            stored[name] = value
    return LabelledSpace(stored, options)


def _labels(options: Sequence[object]) -> list[str]:
    """Each option's :func:`stable_repr`, numbered from the second time one repeats (two
    lambdas, two tuples alike)."""
    labels: list[str] = []
    for option in options:
        label = first = stable_repr(option)
        count = 1
        while label in labels:
            count += 1
            label = f"{first} #{count}"
        labels.append(label)
    return labels


def stable_repr(option: object) -> str:
    """``repr(option)`` as every process writes it: without memory addresses, and an
    estimator's changed parameters only (scikit-learn's default)."""
    with config_context(print_changed_only=True):
        return ADDRESS.sub("", repr(option))

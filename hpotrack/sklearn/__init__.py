"""scikit-learn's search estimator, run by hpotrack: ``from hpotrack.sklearn import
SearchCV``, a drop-in for ``GridSearchCV`` and ``RandomizedSearchCV`` that searches
with any hpotrack method and keeps every trial in the study's SQLite file
(docs/sklearn.md). Needs scikit-learn: ``pip install "hpotrack[sklearn]"``."""

from __future__ import annotations

from hpotrack.errors import MissingDependency

try:
    import sklearn  # noqa: F401
except ImportError:
    raise MissingDependency(
        'hpotrack.sklearn needs scikit-learn: pip install "hpotrack[sklearn]" '
        "(or pip install scikit-learn)"
    ) from None

from hpotrack.sklearn.search import SearchCV

__all__ = ["SearchCV"]

"""Callbacks that report another library's training to the running hpotrack trial.

- :mod:`hpotrack.integrations.lightgbm`: ``ReportCallback`` for ``lightgbm.train``;
- :mod:`hpotrack.integrations.xgboost`: ``ReportCallback`` for ``xgboost.train``.

Each reports a validation metric after every boosting round (so the study's method may
stop the trial there: ``hp.Pruned`` comes out of the library's ``train``) and saves the
booster where the method checks the trial, so that a promoted trial continues its
parent's model (docs/integrations.md). Importing a submodule imports its library; this
package imports neither.
"""

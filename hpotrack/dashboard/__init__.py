"""A local web view of hpotrack studies, ``hpotrack dashboard``: pages built from the
database file alone (:mod:`~hpotrack.dashboard.server`), charts drawn as SVG by
:mod:`~hpotrack.dashboard.svg`, no JavaScript library and no matplotlib needed."""

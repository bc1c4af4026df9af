"""Names that stress storage and printing: unicode, quotes, SQL metacharacters, backslashes.

Shared by the bad-input tests of the library and of the CLI.
"""

from __future__ import annotations

PARAM_NAMES = [  # parameter names have no whitespace (Space refuses it)
    "é",
    "中文",
    "🎉",
    "it's",
    'say"hi"',
    "';DROP/**/TABLE/**/trials;--",
    "%",
    "_",
    "a\\b",
]

"""``python -m hpotrack``: the ``hpotrack`` command, where its script is not on PATH."""

from __future__ import annotations

from hpotrack.cli import main

if __name__ == "__main__":
    main()

"""Where the best sgd configurations are: final errors of configurations drawn in regions.

``multifidelity.py``'s sgd target is random search's median best, 18/540 validation digits
wrong, which only about 1.5 % of uniform configurations reach. This script trains
configurations drawn log-uniformly inside named regions of the sgd space, all 27 epochs,
and prints how their errors after 1 and 27 epochs are distributed: whether a region is
where that level is reached, and whether the first epoch already tells regions apart.

- ``uniform``: the whole space, as random search draws it;
- ``invscaling, large alpha``: invscaling with alpha in [1e-2, 4e-2] and eta0 in
  [0.2, 1], about 1/190 of the space, where the best recorded configurations are;
- ``invscaling, small alpha``: invscaling with alpha in [1e-6, 1e-4] and eta0 in
  [0.07, 0.2], where BOHB's model settled in the runs of seed 20.

    python benchmarks/sgd_regions.py                 # ~80 s on one core
    python benchmarks/sgd_regions.py --configs 40
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
from _common import Report
from multifidelity import wrong_digits

# name: (schedule or None for any, alpha range, eta0 range)
REGIONS: dict[str, tuple[str | None, tuple[float, float], tuple[float, float]]] = {
    "uniform": (None, (1e-6, 1e-1), (1e-4, 1.0)),
    "invscaling, large alpha": ("invscaling", (1e-2, 4e-2), (0.2, 1.0)),
    "invscaling, small alpha": ("invscaling", (1e-6, 1e-4), (0.07, 0.2)),
}
SCHEDULES = ("constant", "optimal", "invscaling", "adaptive")
LEVEL = 18  # random search's median best on sgd, in digits of 1/540


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def errors(region: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Digits wrong after each epoch, one row per configuration drawn in ``region``."""
    schedule, alpha, eta0 = REGIONS[region]
    rows = []
    for _ in range(n):
        params = {
            "alpha": log_uniform(rng, *alpha),
            "eta0": log_uniform(rng, *eta0),
            "schedule": schedule or SCHEDULES[int(rng.integers(len(SCHEDULES)))],
        }
        rows.append(wrong_digits("sgd", params))
    return np.array(rows)


def main() -> None:
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=int, default=100, help="configurations per region")
    parser.add_argument("--seed", type=int, default=7, help="numpy seed of the draws")
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    args = parser.parse_args()
    if args.configs < 1:
        parser.error(f"--configs must be at least 1, but got {args.configs}")
    rng = np.random.default_rng(args.seed)
    rows = []
    for region in REGIONS:
        found = errors(region, args.configs, rng)
        first, final = found[:, 0], found[:, -1]
        rows.append(
            [region, f"{np.median(first):.1f}", f"{np.median(final):.1f}",
             f"{np.mean(final <= LEVEL):.0%}", f"{np.mean(final <= LEVEL - 1):.0%}"]
        )  # fmt: skip
    report = Report("Where the best sgd configurations are")
    report.table(
        f"sgd: errors of {args.configs} configurations per region (digits of 1/540 wrong)",
        rows,
        f"region|median after 1 epoch|median after 27|≤ {LEVEL} after 27|≤ {LEVEL - 1} after 27",
        f"Draws log-uniform within each region, numpy seed {args.seed}; the schedule is "
        "drawn uniformly where the region names none.",
    )
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()

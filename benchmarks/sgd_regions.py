"""Where the best sgd configurations are: final errors of configurations drawn in regions.

``multifidelity.py``'s sgd target is random search's median best, 18/540 validation digits
wrong, which only about 1.5 % of uniform configurations reach. This script trains
configurations drawn log-uniformly inside named regions of the sgd space, all 27 epochs,
and prints how their errors after 1 and 27 epochs are distributed: whether a region is
where that level is reached, whether the first epoch already tells regions apart, and
how much of a region successive halving's first rung would keep.

- ``uniform``: the whole space, as random search draws it;
- ``invscaling, large alpha``: invscaling with alpha in [1e-2, 4e-2] and eta0 in
  [0.2, 1], about 1/190 of the space: configurations that are among the best after one
  epoch and end well;
- ``invscaling, small alpha``: invscaling with alpha in [1e-6, 1e-4] and eta0 in
  [0.07, 0.2], where BOHB's model settled in the runs of seed 20;
- ``constant or adaptive, moderate``: the constant or adaptive schedule with alpha in
  [1e-3, 1e-2] and eta0 in [2e-3, 2.5e-2], about 1/36 of the space, where those two
  schedules end best (from ``multifidelity_replay.py``'s 500 recorded configurations);
- ``optimal, alpha near 5e-3``: the optimal schedule with alpha in [2e-3, 8e-3], any
  eta0 (that schedule ignores it), about 1/33 of the space, where most of those
  recorded configurations that were best after one epoch are.

    python benchmarks/sgd_regions.py                 # ~2 min on one core
    python benchmarks/sgd_regions.py --configs 40
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from _common import Report, environment, one_blas_thread, output_file, versions_of
from multifidelity import wrong_digits

SCHEDULES = ("constant", "optimal", "invscaling", "adaptive")
# name: (schedules drawn from, alpha range, eta0 range)
REGIONS: dict[str, tuple[tuple[str, ...], tuple[float, float], tuple[float, float]]] = {
    "uniform": (SCHEDULES, (1e-6, 1e-1), (1e-4, 1.0)),
    "invscaling, large alpha": (("invscaling",), (1e-2, 4e-2), (0.2, 1.0)),
    "invscaling, small alpha": (("invscaling",), (1e-6, 1e-4), (0.07, 0.2)),
    "constant or adaptive, moderate": (("constant", "adaptive"), (1e-3, 1e-2), (2e-3, 2.5e-2)),
    "optimal, alpha near 5e-3": (("optimal",), (2e-3, 8e-3), (1e-4, 1.0)),
}
LEVEL = 18  # random search's median best on sgd, in digits of 1/540


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def one_of(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    """One of ``options``, uniformly; a single one takes no draw from ``rng`` (the rows
    of the regions with one schedule are what they were before others were added)."""
    return options[int(rng.integers(len(options)))] if len(options) > 1 else options[0]


def errors(region: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Digits wrong after each epoch, one row per configuration drawn in ``region``."""
    schedules, alpha, eta0 = REGIONS[region]
    rows = []
    for _ in range(n):
        params = {
            "alpha": log_uniform(rng, *alpha),
            "eta0": log_uniform(rng, *eta0),
            "schedule": one_of(rng, schedules),
        }
        rows.append(wrong_digits("sgd", params))
    return np.array(rows)


def main() -> None:
    one_blas_thread()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=int, default=100, help="configurations per region")
    parser.add_argument("--seed", type=int, default=7, help="numpy seed of the draws")
    parser.add_argument(
        "--out", type=output_file, help="also write the table to this markdown file"
    )
    args = parser.parse_args()
    if args.configs < 1:
        parser.error(f"--configs must be at least 1, but got {args.configs}")
    report = Report("Where the best sgd configurations are")
    report.lines(environment(versions_of(["hpotrack", "scikit-learn", "numpy"])))
    rng = np.random.default_rng(args.seed)
    rows, kept = [], math.nan
    for region in REGIONS:
        found = errors(region, args.configs, rng)
        first, final = found[:, 0], found[:, -1]
        if region == "uniform":  # successive halving keeps the best third at epoch 1
            kept = float(np.quantile(first, 1 / 3))
        rows.append(
            [region, f"{np.median(first):.1f}", f"{np.mean(first <= kept):.0%}",
             f"{np.median(final):.1f}", f"{np.mean(final <= LEVEL):.0%}",
             f"{np.mean(final <= LEVEL - 1):.0%}"]
        )  # fmt: skip
    report.table(
        f"sgd: errors of {args.configs} configurations per region (digits of 1/540 wrong)",
        rows,
        f"region|median after 1 epoch|in uniform's best third after 1|median after 27"
        f"|≤ {LEVEL} after 27|≤ {LEVEL - 1} after 27",
        f"Draws log-uniform within each region, numpy seed {args.seed}; the schedule is "
        "drawn uniformly among the region's. *In uniform's best third after 1*: the share "
        f"at or below the uniform draws' 1/3 quantile after one epoch ({kept:.0f} digits), "
        "the share that successive halving's first rung would keep.",
    )
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()

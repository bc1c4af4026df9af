"""Start-up: what ``import hpotrack`` and each ``hpotrack`` command cost in a new process,
beside ``import optuna`` and Optuna's commands, in the same run.

Each row is a new Python process (``sys.executable``), timed from its start to its exit:
wall time, and the CPU time it used (user + system; less sensitive than wall time to other
work on the machine). The rows are interleaved, ``--repeats`` rounds of them (default 5),
the median shown; one untimed round first, which also writes the bytecode caches where
Python may. The commands read small real studies (an ``auto`` study and a BOHB study with a
budget, hpotrack's; a TPE study in an SQLite file, Optuna's), built first. ``hpotrack ...``
runs as ``python -c "from hpotrack.cli import main; main()" ...`` with ``PYTHONPATH`` set
to the checkout measured: the installed ``hpotrack`` script may import another one, and
the ``pyenv`` shim before it would add its own start-up; Optuna's commands likewise.

``--baseline DIR`` also times hpotrack's rows with the hpotrack of another checkout (an
older commit: ``git worktree add /tmp/hp-base <commit>``), in a column beside.

    python benchmarks/startup.py                       # about 2 minutes
    python benchmarks/startup.py --repeats 1           # a smoke test
    python benchmarks/startup.py --baseline /tmp/hp-base --out startup.md
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Report, environment, git_revision, median, output_file

import hpotrack as hp

try:
    import optuna
except ImportError:  # --skip-optuna runs without it; otherwise main() says how to install it
    optuna = None

CHECKOUT = Path(hp.__file__).resolve().parents[1]
HPOTRACK = ["-c", "from hpotrack.cli import main; main()"]
OPTUNA = ["-c", "import sys; sys.argv[0] = 'optuna'; from optuna.cli import main; main()"]
BEST = "import {0} as lib; lib.load_study({1}).{2}"


def build_hpotrack(db: Path) -> None:
    """Study "auto" (the default method, 30 trials) and "bohb" (a budget of 1 to 9)."""

    @hp.tune({"x": hp.Float(0.0, 1.0), "n": hp.Int(1, 9)}, study="auto", db=db, seed=0)
    def auto(x: float, n: int) -> float:
        return x * n

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="bohb", study="bohb", db=db, seed=0,
             budget=hp.Budget(min=1, max=9))  # fmt: skip
    def bohb(x: float, trial: hp.Trial) -> float:
        for step in range(1, trial.budget + 1):
            trial.report(x / step, step=step)
        return x / trial.budget

    auto.optimize(n_trials=30)
    bohb.optimize(n_trials=30)


def build_optuna(db: Path) -> str:
    """Study "tpe" of 30 trials in an SQLite file (Optuna's RDB storage); its URL."""
    url = f"sqlite:///{db}"
    study = optuna.create_study(study_name="tpe", storage=url)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) * t.suggest_int("n", 1, 9), n_trials=30)
    return url


def write_jobs_script(folder: Path) -> Path:
    """A script that runs 4 trials in 2 worker processes (``n_jobs=2``) on a database of
    its own, made anew each run: the cost of starting workers and of noticing that they
    ended."""
    script = folder / "jobs.py"
    db = folder / "jobs.db"
    script.write_text(
        "import glob, os\n"
        "import hpotrack as hp\n\n"
        f"@hp.tune({{'x': hp.Float(0.0, 1.0)}}, method='random', seed=0, db={str(db)!r})\n"
        "def f(x):\n"
        "    return x\n\n"
        "if __name__ == '__main__':\n"
        f"    for path in glob.glob({str(db)!r} + '*'):\n"
        "        os.remove(path)\n"
        "    f.optimize(n_trials=4, n_jobs=2, progress=False)\n"
    )
    return script


Row = tuple[str, list[str], str, list[str] | None]


def rows(db: Path, url: str | None, out: Path) -> list[Row]:
    """(label, hpotrack's arguments to python, Optuna's label, Optuna's arguments)."""
    read = ["--db", str(db)]

    def optuna_row(*args: str) -> list[str] | None:
        return None if url is None else [*OPTUNA, *args]

    def code(text: str) -> list[str] | None:
        return None if url is None else ["-c", text]

    study = ["--study-name", "tpe", "--storage", url or ""]
    best_code = BEST.format("optuna", f"study_name='tpe', storage={url!r}", "best_trial")
    return [
        ("python -c pass", ["-c", "pass"], "", None),
        ("import hpotrack", ["-c", "import hpotrack"], "import optuna",
         code("import optuna")),
        ("import hpotrack.cli", ["-c", "import hpotrack.cli"], "import optuna.cli",
         code("import optuna.cli")),
        ("hpotrack --help", [*HPOTRACK, "--help"], "optuna --help", optuna_row("--help")),
        ("hpotrack --version", [*HPOTRACK, "--version"], "optuna --version",
         optuna_row("--version")),
        ("hpotrack show", [*HPOTRACK, *read, "show"], "optuna studies",
         optuna_row("studies", "--storage", url or "")),
        ("hpotrack show STUDY", [*HPOTRACK, *read, "show", "auto"], "optuna trials",
         optuna_row("trials", *study)),
        ("hpotrack best STUDY", [*HPOTRACK, *read, "best", "auto"], "optuna best-trial",
         optuna_row("best-trial", *study)),
        ("hpotrack trial STUDY 5", [*HPOTRACK, *read, "trial", "bohb", "5"], "", None),
        ("hpotrack lineage STUDY", [*HPOTRACK, *read, "lineage", "bohb"], "", None),
        ("hpotrack export STUDY -o FILE", [*HPOTRACK, *read, "export", "bohb", "-o", str(out)],
         "", None),
        ("load_study(...).best", ["-c", BEST.format("hpotrack", f"'auto', db={str(db)!r}",
                                                    "best")],
         "load_study(...).best_trial", code(best_code)),
        ("optimize(n_trials=4, n_jobs=2)", [str(write_jobs_script(out.parent))], "", None),
    ]  # fmt: skip


def run(args: list[str], path: Path | None, cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``python *args`` (``path``: its ``PYTHONPATH``, an
    hpotrack checkout); it must succeed."""
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        last = (done.stderr.decode().strip().splitlines() or ["no output"])[-1]
        sys.exit(f"startup.py: python {' '.join(args)} failed: {last}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(jobs: dict[str, tuple[list[str], Path | None]], repeats: int, cwd: Path) -> dict[
    str, tuple[float, float]
]:  # fmt: skip
    """Median (wall ms, CPU ms) of each job, the jobs interleaved, after one untimed round."""
    times: dict[str, list[tuple[float, float]]] = {key: [] for key in jobs}
    for round_ in range(repeats + 1):
        for key, (args, path) in jobs.items():
            timed = run(args, path, cwd)
            if round_:
                times[key].append(timed)
        if round_:
            print(f"  round {round_} of {repeats}: done", flush=True)
    return {
        key: (median(w for w, _ in got) * 1e3, median(c for _, c in got) * 1e3)
        for key, got in times.items()
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--repeats", type=int, default=5, help="timed rounds, the median shown (default 5)")
    add("--skip-optuna", action="store_true", help="only hpotrack")
    add("--out", type=output_file, help="also write the table to this markdown file")
    add("--baseline", type=Path, metavar="DIR", help="also time them with this checkout's hpotrack")
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "hpotrack" / "__init__.py").is_file():
        parser.error(f"--baseline {args.baseline} is not an hpotrack checkout (no hpotrack/)")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, but got {args.repeats}")
    return args


def main() -> None:
    """Build the studies, time every row, print the table."""
    args = parse_args()
    logging.getLogger("hpotrack").setLevel(logging.ERROR)
    if not args.skip_optuna and optuna is None:
        sys.exit('startup.py: optuna not installed; run pip install -e ".[bench]" from the '
                 "repository root, or leave Optuna out with --skip-optuna")  # fmt: skip
    versions = {"optuna": optuna.__version__} if not args.skip_optuna else {}
    report = Report("hpotrack start-up")
    lines = environment(versions)
    if args.baseline is not None:
        lines.append(f"baseline: {args.baseline.resolve()} at {git_revision(args.baseline)}")
    cached = "no (PYTHONDONTWRITEBYTECODE is set)" if sys.dont_write_bytecode else "yes"
    lines.append(f"bytecode caches written: {cached}")
    report.lines(lines)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url = None
        if not args.skip_optuna:
            optuna.logging.set_verbosity(optuna.logging.ERROR)
            url = build_optuna(folder / "optuna.db")
        build_hpotrack(folder / "h.db")
        table = rows(folder / "h.db", url, folder / "export.json")
        jobs: dict[str, tuple[list[str], Path | None]] = {}
        for label, ours, theirs, their_args in table:
            jobs[label] = (ours, CHECKOUT)
            if args.baseline is not None:
                jobs[f"baseline {label}"] = (ours, args.baseline.resolve())
            if their_args is not None:
                jobs[theirs] = (their_args, None)
        print(f"{len(jobs)} commands, {args.repeats} rounds...", flush=True)
        times = measure(jobs, args.repeats, folder)
    out = []
    for label, _, theirs, _ in table:
        wall, cpu = times[label]
        row = [label, f"{wall:.0f}", f"{cpu:.0f}"]
        if args.baseline is not None:
            row += [f"{t:.0f}" for t in times[f"baseline {label}"]]
        found = times.get(theirs)
        row += ["-"] * 3 if found is None else [theirs, *(f"{t:.0f}" for t in found)]
        out.append(row)
    ours = "hpotrack wall|CPU"
    if args.baseline is not None:
        ours += "|baseline wall|CPU"
    report.table(
        f"A new process, start to exit (ms, median of {args.repeats})",
        out,
        f"command|{ours}|Optuna's counterpart|Optuna wall|CPU",
        "Each row is a new Python process; CPU is user + system time. The studies are "
        "small (30 trials): the rows are start-up, not reading. The optimize row is a "
        "script whose 2 worker processes run 4 trials of a new study; its CPU includes "
        "the workers'.",
    )
    report.finish(args.out)


if __name__ == "__main__":
    main()

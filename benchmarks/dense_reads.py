"""Reading a dense study back: export, import, the curves plot and one curve, beside Optuna.

Workload: one study of T trials (default 20; quick 3) that each report every batch, R
times (default 50,000; quick 2,000): random search over one float, no pruner, trial ``x``
reporting ``x + 1/step`` at steps 1..R. The same curves in Optuna
(``trial.report`` per step) in a ``JournalStorage(JournalFileBackend(...))`` file; its
RDB ``sqlite:///`` storage commits every report (~2.5 ms each here: over 40 minutes for
the default 1,000,000), so it is left out. Then each read runs in a fresh Python process
(``python -c``, ``PYTHONPATH`` set to the hpotrack imported here), so its peak RSS is its
own: hpotrack's ``export --format json`` and ``jsonl`` and ``import`` of each (through
``hpotrack.cli.main``), ``plot --kind curves``, ``load_study(...).curve(n)`` of one trial
and of every trial; Optuna's ``load_study`` and every trial's ``intermediate_values``,
``copy_study`` into a new journal file (its nearest to export + import) and
``plot_intermediate_values`` saved to a PNG (matplotlib's Agg backend for both). The rows
run round robin, ``--repeats`` rounds (default 3; quick 1), the medians shown.

Optuna's journal is slow at these sizes: replaying it (its build, and each of its reads)
copies a trial's intermediate values at every report, quadratic in a trial's reports. At
the default 20 x 50,000 its build took ~14 minutes here, one ``copy_study`` ~4 and one
``load_study`` over 4, so a default run with Optuna takes about an hour (most of it
Optuna's); ``--reports 10000`` puts both side by side in a few minutes.

    python benchmarks/dense_reads.py --repeats 1   # default sizes beside Optuna: 30+ minutes
    python benchmarks/dense_reads.py --reports 10000 --out reads.md    # a few minutes
    python benchmarks/dense_reads.py --skip-optuna # default sizes, hpotrack only: ~2 minutes
    python benchmarks/dense_reads.py --quick       # 3 x 2,000 reports, a smoke test
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from _common import Report, environment, median, output_file, total_size, versions_beside_optuna

import hpotrack as hp
from hpotrack.store import close_stores
from hpotrack.text import human_bytes

STUDY = "dense"
CHECKOUT = Path(hp.__file__).resolve().parents[1]

# What each fresh process runs (``python -c CODE ARGS``): the library imported first, then
# the read timed; its last line of output is the read's seconds and the process's peak RSS:
# VmHWM, its memory's own high-water mark (ru_maxrss would also count the memory of the
# parent it was forked from before its exec).
DONE = """
def done(start):
    seconds = time.perf_counter() - start
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(f"\\n{seconds!r} {peak * 1024}")
"""


def code(*parts: str) -> str:
    """A fresh process's program: :data:`DONE`, then ``parts``."""
    return "".join((DONE, *parts))


CLI = code("""
import sys, time
from hpotrack.cli import main
start = time.perf_counter()
try:
    main()
except SystemExit as exc:
    if exc.code:
        raise
done(start)
""")
CURVES = code("""
import sys, time
import hpotrack as hp
start = time.perf_counter()
study = hp.load_study(sys.argv[1], db=sys.argv[2])
numbers = [int(sys.argv[3])] if len(sys.argv) > 3 else [t.number for t in study.trials]
points = sum(len(study.curve(n)[study.objective]) for n in numbers)
done(start)
""")
OPTUNA = """
import sys, time, warnings
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.simplefilter("ignore")  # plot_intermediate_values is experimental
def storage(path):
    return JournalStorage(JournalFileBackend(path))
start = time.perf_counter()
"""
OPTUNA_READ = code(OPTUNA, """
study = optuna.load_study(study_name=sys.argv[1], storage=storage(sys.argv[2]))
points = sum(len(t.intermediate_values) for t in study.get_trials())
done(start)
""")  # fmt: skip
OPTUNA_COPY = code(OPTUNA, """
optuna.copy_study(from_study_name=sys.argv[1], from_storage=storage(sys.argv[2]),
                  to_storage=storage(sys.argv[3]))
done(start)
""")  # fmt: skip
OPTUNA_PLOT = code(OPTUNA, """
from optuna.visualization.matplotlib import plot_intermediate_values
study = optuna.load_study(study_name=sys.argv[1], storage=storage(sys.argv[2]))
plot_intermediate_values(study).figure.savefig(sys.argv[3])
done(start)
""")  # fmt: skip


class Read(NamedTuple):
    """One row: what it does, whose, the call shown, and ``python -c code *args``;
    ``output``: the file it writes (removed before each run when ``fresh``)."""

    operation: str
    library: str
    call: str
    code: str
    args: list[str]
    output: Path | None = None
    fresh: bool = False


def build_hpotrack(db: Path, trials: int, reports: int) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study=STUDY, db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        for step in range(1, reports + 1):
            trial.report(x + 1.0 / step, step=step)
        return x

    train.optimize(n_trials=trials)
    close_stores()


def build_optuna(journal: Path, trials: int, reports: int) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    def train(trial: Any) -> float:
        x: float = trial.suggest_float("x", 0.0, 1.0)
        for step in range(1, reports + 1):
            trial.report(x + 1.0 / step, step)
        return x

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = JournalStorage(JournalFileBackend(str(journal)))
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(study_name=STUDY, storage=storage, sampler=sampler)
    study.optimize(train, n_trials=trials)


def reads(folder: Path, trials: int, journal: Path | None) -> list[Read]:
    """The rows, exports before the imports that read them."""
    db, one = str(folder / "h.db"), str(trials // 2)
    json_file, jsonl_file = folder / "export.json", folder / "export.jsonl"
    cli = ["--db", db]
    found = [
        Read("export", "hpotrack", "hpotrack export --format json", CLI,
             [*cli, "export", STUDY, "--format", "json", "-o", str(json_file)], json_file),
        Read("export", "hpotrack", "hpotrack export --format jsonl", CLI,
             [*cli, "export", STUDY, "--format", "jsonl", "-o", str(jsonl_file)], jsonl_file),
    ]  # fmt: skip
    for source in (json_file, jsonl_file):
        target = folder / f"imported-{source.suffix[1:]}.db"
        call = f"hpotrack import FILE{source.suffix} (a new database)"
        args = ["--db", str(target), "import", str(source)]
        found.append(Read("import", "hpotrack", call, CLI, args, target, fresh=True))
    if journal is not None:
        copy = folder / "copy.journal"
        call = "optuna.copy_study (a new journal file)"
        args = [STUDY, str(journal), str(copy)]
        found.append(Read("export + import", "optuna", call, OPTUNA_COPY, args, copy, True))
    found.append(
        Read("every curve", "hpotrack", "load_study().curve(n) of every trial", CURVES,
             [STUDY, db])
    )  # fmt: skip
    if journal is not None:
        call = "load_study().get_trials(), .intermediate_values"
        found.append(Read("every curve", "optuna", call, OPTUNA_READ, [STUDY, str(journal)]))
    found.append(
        Read("one curve", "hpotrack", f"load_study().curve({one})", CURVES, [STUDY, db, one])
    )
    png = folder / "hpotrack.png"
    found.append(
        Read("plot curves (PNG)", "hpotrack", "hpotrack plot --kind curves", CLI,
             [*cli, "plot", STUDY, "--kind", "curves", "-o", str(png)], png)
    )  # fmt: skip
    if journal is not None:
        png = folder / "optuna.png"
        call = "plot_intermediate_values(study), savefig"
        found.append(
            Read("plot curves (PNG)", "optuna", call, OPTUNA_PLOT, [STUDY, str(journal), str(png)],
                 png)
        )  # fmt: skip
    return found


def remove(path: Path) -> None:
    """A database or journal file and the files SQLite or Optuna keep beside it."""
    for name in (path, *(Path(f"{path}{end}") for end in ("-wal", "-shm", ".lock"))):
        name.unlink(missing_ok=True)


def run(read: Read) -> tuple[float, float, int, int | None]:
    """``read`` in a fresh process: (seconds of the read, seconds from the process's start
    to its exit, its peak RSS in bytes, bytes of the file it wrote)."""
    if read.output is not None and read.fresh:
        remove(read.output)
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", read.code, *read.args], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"dense_reads.py: {read.call} failed: {last}")
    seconds, peak = done.stdout.strip().splitlines()[-1].split()
    size = None
    if read.output is not None:
        size = total_size([read.output, Path(f"{read.output}-wal")])
    return float(seconds), wall, int(peak), size


def measured(todo: list[Read], repeats: int) -> list[list[str]]:
    """The table's rows: each read's medians over ``repeats`` rounds, run round robin."""
    runs: list[list[tuple[float, float, int, int | None]]] = [[] for _ in todo]
    for round_ in range(1, repeats + 1):
        for read, found in zip(todo, runs, strict=True):
            found.append(run(read))
        print(f"  round {round_} of {repeats}: done", flush=True)
    rows = []
    for read, found in zip(todo, runs, strict=True):
        sizes = [size for *_, size in found if size is not None]
        rows.append(
            [
                read.operation,
                read.library,
                read.call,
                f"{median(s for s, *_ in found):.2f}",
                f"{median(w for _, w, *_ in found):.2f}",
                human_bytes(median(r for *_, r, _ in found)),
                human_bytes(median(sizes)) if sizes else "-",
            ]
        )
    return rows


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="3 trials x 2,000 reports, 1 round: a smoke test")
    add("--trials", type=int, help="trials of the study (default 20; quick 3)")
    add("--reports", type=int, help="reports per trial (default 50,000; quick 2,000)")
    add("--repeats", type=int, help="rounds of the reads, the medians shown (default 3; quick 1)")
    add("--skip-optuna", action="store_true", help="only hpotrack's rows")
    add("--out", type=output_file, help="also write the table to this markdown file")
    args = parser.parse_args()
    args.trials = args.trials if args.trials is not None else (3 if args.quick else 20)
    args.reports = args.reports if args.reports is not None else (2_000 if args.quick else 50_000)
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    for option in ("trials", "reports", "repeats"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be at least 1, but got {getattr(args, option)}")
    return args


def main() -> None:
    """Build both studies, read each back in fresh processes, print the table."""
    args = parse_args()
    versions = versions_beside_optuna(args.skip_optuna, "matplotlib")
    logging.getLogger("hpotrack").setLevel(logging.ERROR)
    report = Report("hpotrack dense study read back")
    report.lines(environment(versions))
    count = args.trials * args.reports
    with tempfile.TemporaryDirectory(prefix="dense-reads-") as name:
        folder = Path(name)
        journal = None if args.skip_optuna else folder / "optuna.journal"
        print(f"building {args.trials} x {args.reports:,} reports per library...", flush=True)
        start = time.perf_counter()
        build_hpotrack(folder / "h.db", args.trials, args.reports)
        built = [f"hpotrack built {count:,} reports in {time.perf_counter() - start:.1f} s"]
        if journal is not None:
            start = time.perf_counter()
            build_optuna(journal, args.trials, args.reports)
            built.append(f"Optuna (journal file) built them in {time.perf_counter() - start:.1f} s")
        sizes = [f"hpotrack's database {human_bytes(total_size([folder / 'h.db']))}"]
        if journal is not None:
            sizes.append(f"Optuna's journal {human_bytes(total_size([journal]))}")
        report.lines([*built, "stored: " + ", ".join(sizes)])
        rows = measured(reads(folder, args.trials, journal), args.repeats)
    report.table(
        f"A study of {args.trials:,} trials x {args.reports:,} reports read back "
        f"(median of {args.repeats})",
        rows,
        "operation|library|what runs|seconds|process s|peak RSS|output",
        "Each row is a fresh Python process. seconds: the read alone, after the library's "
        "import (a plot's matplotlib import is in it); process s: start to exit; peak RSS: "
        "the process's (the library's imports included); output: the file written (an "
        "import's database, a copy's journal file).",
    )
    report.finish(args.out)


if __name__ == "__main__":
    main()

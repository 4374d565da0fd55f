"""Start-up time of the ``autoport`` command, beside a bare interpreter and Typer + rich.

Run: ``python experiments/bench/bench_cli_start.py`` (add ``--repeat N``). Each line times a
whole fresh process (``subprocess.run``; nothing is cached between runs but the OS file cache,
which one warm-up run fills for every line alike), the lines taken in turn N times, and prints
the best and the median of the N runs and the ratio of the median against
``python -c "import typer, rich"``, the floor any Typer + rich command pays, and against a bare
one-option Typer app's help, the floor of any Typer command's help page.

Targets (issue 13.1): ``autoport --help`` <= 0.5 s, ``autoport COMMAND --help`` <= 1 s, both
at most 3x ``python -c pass`` + the typer/rich import (the reference line). On a shared machine
the figures move; compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = ("backtest", "optimize", "stress", "regime", "train-agent", "promote", "runs")

# The floor of any Typer command's help page: a one-option app. Typer 0.2x builds each
# command's parameters through pydantic and renders help through rich.markdown, both loaded on
# the first command, so `COMMAND --help` costs more than `import typer, rich` for everyone.
BARE_TYPER = """
from pathlib import Path
from typing import Annotated
import typer
app = typer.Typer(add_completion=False)
@app.command()
def one(out: Annotated[Path | None, typer.Option(help="a folder")] = None) -> None:
    \"\"\"A bare command.\"\"\"
@app.command()
def two() -> None:
    \"\"\"Another.\"\"\"
app()
"""


def autoport_argv() -> list[str]:
    """The installed console script, run by this interpreter (same venv as the references)."""
    script = Path(sys.executable).with_name("autoport")
    if not script.exists():
        found = shutil.which("autoport")
        if found is None:
            sys.exit("no `autoport` script beside this python or on PATH; pip install -e . first")
        script = Path(found)
    return [sys.executable, str(script)]


def time_all(lines: list[tuple[str, list[str]]], repeat: int, env: dict[str, str]
             ) -> dict[str, list[float]]:
    """Round-robin: each round runs every line once, so a burst of load from other processes
    falls on all lines alike rather than on whichever block was running."""
    for _, argv in lines:  # warm the file cache
        subprocess.run(argv, env=env, capture_output=True, check=True)
    times: dict[str, list[float]] = {name: [] for name, _ in lines}
    for _ in range(repeat):
        for name, argv in lines:
            t0 = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True)
            times[name].append(time.perf_counter() - t0)
            if done.returncode != 0:
                sys.exit(f"{name} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per line (default 7)")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help="commands whose --help is timed, comma-separated")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    cli = autoport_argv()
    lines = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("python -c 'import typer, rich'", [sys.executable, "-c", "import typer, rich"]),
        ("bare Typer app --help", [sys.executable, "-c", BARE_TYPER, "--help"]),
        ("bare Typer app one --help", [sys.executable, "-c", BARE_TYPER, "one", "--help"]),
        ("python -c 'import autoport_cli.main'",
         [sys.executable, "-c", "import autoport_cli.main"]),
        ("autoport --help", [*cli, "--help"]),
        *((f"autoport {c} --help", [*cli, c, "--help"]) for c in args.commands.split(",") if c),
    ]
    results = time_all(lines, args.repeat, env)
    reference = statistics.median(results["python -c 'import typer, rich'"])
    bare = statistics.median(results["python -c pass"])
    typer_floor = statistics.median(results["bare Typer app one --help"])
    print(f"{'process':<40} {'best s':>8} {'median s':>9} {'x typer+rich':>13} {'x bare':>8} "
          f"{'x bare Typer cmd':>17}")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:<40} {min(times):>8.3f} {med:>9.3f} {med / reference:>13.2f} "
              f"{med / bare:>8.2f} {med / typer_floor:>17.2f}")
    print(f"({args.repeat} rounds after one warm-up; ratios use medians; target: autoport "
          "--help <= 0.5 s, COMMAND --help <= 1 s, both <= 3x typer+rich)")


if __name__ == "__main__":
    main()

"""Run the documented commands on the bundled data and keep their outputs for the docs site.

    .venv/bin/python docs/make_figures.py                    # every step, 4 at a time
    .venv/bin/python docs/make_figures.py --only optimize    # only the steps named (repeat --only)
    .venv/bin/python docs/make_figures.py --list             # the steps and what they run

Each step runs the real ``autoport`` command (short periods, the fast engine where the page is
not about zipline, a short DQN training, ``--no-track`` where no run id is shown), writes what
it printed to ``docs/outputs/<step>.txt`` (the command line first) and copies the figures it
drew to ``docs/img/<step>/``. The pages include those files, so nothing shown on the site is
written by hand. Independent steps run in parallel (``--jobs``); each command's wall and CPU
time is printed (on a shared machine wall time is several times the CPU time). Not part of
CI: the outputs are committed. Runs are tracked in a fresh working area (``AUTOPORT_HOME``, a
temporary folder unless set) so that ``promote`` and serving the champion find them;
``--only serve`` needs the ``AUTOPORT_HOME`` of an earlier ``promote`` step. Some pages include
line ranges of the outputs (``stress.txt:17:32``): after a run, ``mkdocs serve`` and check
those sections still start where the pages expect.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
IMG = DOCS / "img"
OUT = DOCS / "outputs"
BIN = Path(sys.executable).parent
AUTOPORT = str(BIN / "autoport")
HOME = Path(os.environ.get("AUTOPORT_HOME") or tempfile.mkdtemp(prefix="autoport-docs-"))
ENV = {
    **os.environ,
    "AUTOPORT_HOME": str(HOME),
    "COLUMNS": "110",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NO_COLOR": "1",
    # Ray starts its workers at nice 15: beside the other steps (and anything else at normal
    # priority) the sweep's trials got a few percent of a core, 160-450 s wall for a trial of
    # 1 s CPU. The raylet reads this from its environment; its workers then run at nice 0.
    "RAY_worker_niceness": "0",
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow serve starts uvicorn
}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


_PRINT = threading.Lock()


def say(text: str) -> None:
    with _PRINT:
        print(text, flush=True)


def run(step: str, args: list[str], *, expect_fail: bool | None = False, shown: str | None = None,
        append: bool = False) -> subprocess.CompletedProcess:
    """Run ``autoport ARGS``; save the command and what it printed (stderr too on failure)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([AUTOPORT, *args], cwd=ROOT, env=ENV, stdout=out, stderr=err,
                                 text=True)
        # os.wait4 gives this child's own CPU time (steps run in parallel threads).
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        proc = subprocess.CompletedProcess(child.args, child.returncode, out.read(), err.read())
    took, cpu = time.perf_counter() - t0, usage.ru_utime + usage.ru_stime
    failed = proc.returncode != 0
    if expect_fail is not None and failed != expect_fail:
        with _PRINT:
            sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{step}: autoport {' '.join(args)} exited {proc.returncode}")
    text = proc.stdout
    if failed:
        text += proc.stderr + f"(exit code {proc.returncode})\n"
    # Files written into the working area are shown by their names.
    command = shown or ("autoport " + " ".join(args)).replace(
        str(HOME / "prices") + "/", "").replace(str(HOME) + "/", "")
    # The working area is a temporary folder here; shown as the default ./autoport_home.
    text = ANSI.sub("", text).replace(str(HOME / "prices") + "/", "")
    text = text.replace(str(HOME), "autoport_home")
    record = f"$ {command}\n{text.rstrip()}\n"
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{step}.txt"
    with path.open("a" if append else "w") as fh:
        fh.write(("\n" if append else "") + record)
    CPU[step] = CPU.get(step, 0.0) + cpu
    say(f"[{took:6.1f} s, CPU {cpu:6.1f} s] {step}: {command}")
    found = re.search(re.escape(str(HOME / "runs")) + r"/[\w.:\-]+", proc.stdout + proc.stderr)
    proc.folder = Path(found.group(0)) if found else None
    return proc


CPU: dict[str, float] = {}  # CPU seconds of the commands, per output file


# The figures the pages show, per step (a command draws more; only these are kept).
SHOWN = {
    "backtest": ("comparison.png", "weights.png", "tear_sheet.png"),
    "backtest-regime": ("regime_timeline.png",),
    "autopilot": ("weights.png",),
    "promote-mpt": ("test_period.png",),
    "promote-dqn": ("episodes.png",),
}


def keep_figures(step: str, folder: Path) -> None:
    """Copy the PNGs a command drew (those the pages show) into docs/img/<step>/, replacing
    the folder whole: figures made by other runs (the sweep results) live in folders of their
    own, such as docs/img/sweep-results/."""
    dest = IMG / step
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for png in sorted(folder.glob("*.png")):
        if step not in SHOWN or png.name in SHOWN[step]:
            shutil.copy2(png, dest / png.name)


def keep_text(step: str, folder: Path, name: str, lines: int | None = None) -> None:
    """Copy a text artifact (optionally its first lines) into docs/outputs/<step>-<name>."""
    text = (folder / name).read_text()
    if lines is not None:
        text = "\n".join(text.splitlines()[:lines]) + "\n"
    (OUT / f"{step}-{name}").write_text(text)


def keep_sections(step: str, markdown: Path, titles: tuple[str, ...]) -> None:
    """The first ``### date: title`` section of each title, into outputs/<step>-<slug>.md."""
    sections = markdown.read_text().split("\n### ")
    for title in titles:
        found = next(sec for sec in sections if sec.split("\n", 1)[0].endswith(title))
        slug = title.split()[0] + "-" + title.split()[-2]
        (OUT / f"{step}-{slug}.md").write_text("### " + found.rstrip() + "\n")


def step_backtest() -> None:
    """The main job's command on a short period (the whole history takes minutes)."""
    proc = run("backtest", ["backtest", "--strategy", "mpt", "--start", "2019-01-01",
                            "--end", "2022-12-30"])
    keep_figures("backtest", proc.folder)
    keep_text("backtest", proc.folder, "decisions.jsonl", lines=2)
    keep_text("backtest", proc.folder, "metrics.csv")
    terminal_picture(OUT / "backtest.txt", IMG / "backtest" / "table.png")


def terminal_picture(text_file: Path, png: Path) -> None:
    """The saved terminal output drawn as a PNG (a screenshot of the real output, not retyped)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [line for line in text_file.read_text().splitlines() if "━━━━━━━━ " not in line]
    width = max(len(line) for line in lines)
    fig = plt.figure(figsize=(0.088 * width + 0.3, 0.168 * len(lines) + 0.3), dpi=110)
    fig.patch.set_facecolor("#1e1e1e")
    fig.text(0.02, 0.98, "\n".join(lines), family="DejaVu Sans Mono", size=10.5,
             color="#e0e0e0", va="top", ha="left", linespacing=1.0)
    fig.savefig(png, facecolor=fig.get_facecolor(), bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)


def step_optimize() -> None:
    """Max Sharpe with constraints, a Pareto set, an infeasible set of constraints."""
    proc = run("optimize", ["optimize", "--objective", "max_sharpe", "--constraints",
                            "configs/constraints.example.yaml", "--no-track"])
    keep_figures("optimize", proc.folder)
    proc = run("optimize-pareto", ["optimize", "--objective", "min_cdar", "--pareto",
                                   "return,cdar", "--no-track"])
    keep_figures("optimize-pareto", proc.folder)
    bad = HOME / "infeasible.yaml"
    bad.write_text("long_only: true\nmax_position: 0.04\n")
    run("optimize-infeasible", ["optimize", "--objective", "min_variance", "--constraints",
                                str(bad), "--no-track"], expect_fail=True)


def step_stress() -> None:
    """VaR/ES by every method, scenarios, attribution, the VaR backtest."""
    proc = run("stress", ["stress", "--strategy", "mpt", "--method", "all", "--paths", "20000",
                          "--no-track"])
    keep_figures("stress", proc.folder)


def step_regime() -> None:
    """The regime detector on the whole history; the regime strategy on 2018-2022 (fast engine)."""
    proc = run("regime", ["regime", "--no-track"])
    keep_figures("regime", proc.folder)
    proc = run("backtest-regime", ["backtest", "--strategy", "regime", "--engine", "sim",
                                   "--start", "2018-01-01", "--no-track"])
    keep_figures("backtest-regime", proc.folder)


def step_autopilot() -> None:
    """The autopilot's backtest on 2018-2022 (fast engine): decisions, log, after-tax figures."""
    proc = run("autopilot", ["backtest", "--config", "configs/autopilot_backtest.yaml",
                             "--engine", "sim", "--start", "2018-01-01", "--no-track"])
    keep_figures("autopilot", proc.folder)
    keep_text("autopilot", proc.folder, "decisions.txt", lines=12)
    keep_sections("autopilot", proc.folder / "decisions.md",
                  ("switched to the defensive allocation", "restored the normal allocation"))
    keep_text("autopilot", proc.folder, "decisions.jsonl", lines=3)
    keep_text("autopilot", proc.folder, "after_tax.json")


def step_agent() -> None:
    """A short DQN training (2,000 steps, not the default 40,000) and its refused promotion."""
    proc = run("train-agent", ["train-agent", "--timesteps", "2000", "--seed", "0"])
    keep_figures("train-agent", proc.folder)
    dqn_run = re.search(r"[0-9a-f]{32}", proc.stdout + proc.stderr)
    if dqn_run is None:
        raise SystemExit("agent: no run id in train-agent's output")
    proc = run("promote-dqn", ["promote", dqn_run.group(0)], expect_fail=True,
               shown="autoport promote DQN_RUN_ID")
    if proc.folder:
        keep_figures("promote-dqn", proc.folder)


def step_promote() -> None:
    """An MPT backtest (fast engine), its promotion (refused, then with demo gates), serving it."""
    proc = run("promote-candidate", ["backtest", "--strategy", "mpt", "--engine", "sim",
                                     "--start", "2019-01-01", "--end", "2020-12-31"])
    candidate = re.search(r"run[^0-9a-f]{0,12}([0-9a-f]{32})", proc.stdout + proc.stderr)
    if candidate is None:
        raise SystemExit("promote: no run id in the backtest's output")
    args = ["promote", candidate.group(1), "--test-start", "2021-01-01"]
    first = run("promote-mpt", args, expect_fail=None,
                shown="autoport promote RUN_ID --test-start 2021-01-01")
    if first.returncode != 0:
        first = run("promote-mpt", [*args, "--gates", "docs/examples/gates_demo.yaml"],
                    shown="autoport promote RUN_ID --test-start 2021-01-01 "
                          "--gates docs/examples/gates_demo.yaml", append=True)
    if first.folder:
        keep_figures("promote-mpt", first.folder)
    run("promote-list", ["promote", "--list"])
    step_serve()


def step_runs() -> None:
    """The latest tracked runs; run after the steps that track."""
    run("runs", ["runs", "--limit", "6"])


def step_serve() -> None:
    """``mlflow models serve`` on the champion, one request, its response kept.

    Needs the champion registered by the ``promote`` step in the same ``AUTOPORT_HOME``.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # mlflow runs `uvicorn` from PATH; make sure it is this interpreter's (a shared venv's
    # uvicorn script may belong to another Python, which cannot import autoport).
    shim = HOME / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "uvicorn").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m uvicorn "$@"\n')
    (shim / "uvicorn").chmod(0o755)
    env = {**ENV, "MLFLOW_TRACKING_URI": f"sqlite:///{HOME / 'mlflow.db'}",
           "PATH": f"{shim}{os.pathsep}{ENV['PATH']}"}
    server = subprocess.Popen(
        [str(BIN / "mlflow"), "models", "serve", "-m", "models:/autoport-mpt@champion",
         "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port)],
        # Not from the checkout: uvicorn puts its folder first on sys.path, where the source
        # tree's autoport/ (without autoport.strategies, mapped in by setup.py) would shadow
        # the installed package.
        cwd=HOME, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sys.path.insert(0, str(ROOT))
        from autoport.data import bundled_prices

        prices = bundled_prices().loc["2021-01-01":"2022-06-30"]
        body = {"dataframe_split": json.loads(prices.to_json(orient="split", date_format="iso"))}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"})
        for _ in range(180):
            if server.poll() is not None:
                raise SystemExit(f"serve: mlflow models serve exited {server.returncode}")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = json.loads(response.read())
                break
            except OSError:
                time.sleep(1)
        else:
            raise SystemExit("serve: the model server did not answer within 3 minutes")
    finally:
        server.terminate()
        server.wait(timeout=30)
    (OUT / "serve-response.json").write_text(json.dumps(answer, indent=2) + "\n")
    (OUT / "serve-request-shape.txt").write_text(
        f"{len(prices)} sessions x {prices.shape[1]} tickers, "
        f"{prices.index[0].date()} to {prices.index[-1].date()}\n")
    split = body["dataframe_split"]  # the request as sent, its first two rows only
    shown = {"dataframe_split": {"columns": split["columns"], "index": split["index"][:2],
                                 "data": split["data"][:2]}}
    (OUT / "serve-request-head.json").write_text(json.dumps(shown) + "\n")
    say("[serve] models:/autoport-mpt@champion answered")


def step_sweep() -> None:
    """A cut-down MPT sweep (6 trials; the full spec's figures are in the handbook)."""
    proc = run("sweep", ["sweep", "docs/examples/sweep_demo.yaml", "--num-cpus", "2",
                         "--no-track"])
    keep_figures("sweep", proc.folder)
    keep_text("sweep", proc.folder, "chosen_config.yaml")


def step_prices() -> None:
    """Every validation rule on a small panel cut from the bundled data."""
    import pandas as pd

    sys.path.insert(0, str(ROOT))
    from autoport.data import bundled_prices

    good = bundled_prices().loc["2020-01-01":"2020-12-31", ["AAPL", "JNJ", "KO"]].round(4)
    folder = HOME / "prices"
    folder.mkdir(exist_ok=True)
    cases: dict[str, pd.DataFrame | str] = {}
    frame = good.astype(object)
    frame.iloc[10, 1] = "12,5O"
    cases["non_numeric"] = frame
    frame = good.copy()
    frame.iloc[20, 0] = -1.0
    cases["non_positive"] = frame
    frame = good.copy()
    frame.iloc[30, 2] = 1e12
    cases["implausible"] = frame
    frame = good.copy()
    frame.iloc[[40, 41, 90], 0] = float("nan")
    cases["nan_gaps"] = frame
    frame = good.copy()
    frame.iloc[60, 1] *= 10  # a one-day x10 jump, undone the next session
    cases["bad_tick"] = frame
    cases["duplicate_dates"] = pd.concat([good.iloc[:50], good.iloc[49:]])
    cases["unsorted_dates"] = good.iloc[::-1]
    cases["one_asset"] = good[["AAPL"]]
    frame = good.copy()
    frame.index = frame.index.where(frame.index != pd.Timestamp("2020-07-06"),
                                    pd.Timestamp("2020-07-04"))
    cases["not_sessions"] = frame
    cases["row_index"] = good.reset_index(drop=True)
    cases["short_history"] = good.iloc[:30]
    # Accepted as they are:
    frame = good.copy()
    frame.iloc[:15, 2] = float("nan")
    cases["late_listing"] = frame
    aware = good.copy()
    aware.index = aware.index.tz_localize("America/New_York")
    cases["timezone_aware"] = aware
    step = "prices"
    (OUT / f"{step}.txt").unlink(missing_ok=True)
    for i, (name, panel) in enumerate(cases.items()):
        path = folder / f"{name}.csv"  # shown by its name only in the outputs
        panel.to_csv(path, index=name != "row_index", index_label="date")
        accepted = name in ("timezone_aware", "late_listing")
        # The NYSE calendar is checked by the zipline engine; the simulator takes the dates given.
        engine = [] if name == "not_sessions" else ["--engine", "sim"]
        run(step, ["backtest", "--strategy", "equal_weight", "--window", "60", *engine,
                   "--no-track", "--prices", str(path)], expect_fail=not accepted, append=i > 0)
        head = path.read_text().splitlines()[:3]
        (OUT / f"prices-{name}-head.csv").write_text("\n".join(head) + "\n")


# Independent steps, run in parallel; ``runs`` lists the tracked runs, so it comes last.
STEPS = {
    "agent": step_agent,
    "promote": step_promote,
    "sweep": step_sweep,
    "autopilot": step_autopilot,
    "backtest": step_backtest,
    "regime": step_regime,
    "prices": step_prices,
    "optimize": step_optimize,
    "stress": step_stress,
}
AFTER = {"runs": step_runs}
ALONE = {"serve": step_serve}


def main(argv: list[str] | None = None) -> None:
    every = {**STEPS, **AFTER, **ALONE}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(every), metavar="STEP",
                        help=f"run only this step (repeatable): {', '.join(every)}")
    parser.add_argument("--jobs", type=int, default=4, help="steps run at once (default 4)")
    parser.add_argument("--list", action="store_true", help="list the steps and exit")
    options = parser.parse_args(argv)
    if options.list:
        for name, step in every.items():
            print(f"{name:10} {(step.__doc__ or '').strip().splitlines()[0]}")
        return
    chosen = options.only or [*STEPS, *AFTER]
    say(f"AUTOPORT_HOME={HOME}")
    t0 = time.perf_counter()
    first = [n for n in chosen if n not in AFTER]
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        for future in [pool.submit(every[name]) for name in first]:
            future.result()
    for name in chosen:
        if name in AFTER:
            AFTER[name]()
    per_step = ", ".join(f"{k} {v:.0f}" for k, v in sorted(CPU.items(), key=lambda kv: -kv[1]))
    say(f"done in {time.perf_counter() - t0:.0f} s wall; CPU of the commands "
        f"{sum(CPU.values()):.0f} s ({per_step})")


if __name__ == "__main__":
    main()

"""Run the documented commands on the bundled data and keep their outputs for the docs site.

    .venv/bin/python docs/make_figures.py            # every step (31 min wall on a 2-core machine at load 13-25)
    .venv/bin/python docs/make_figures.py optimize   # only the steps named

Each step runs the real ``autoport`` command (short periods, so the whole script stays quick),
writes what it printed to ``docs/outputs/<step>.txt`` (the command line first) and copies the
figures it drew to ``docs/img/<step>/``. The pages include those files, so nothing shown on
the site is written by hand. Not part of CI: the outputs are committed. Runs are tracked in a
fresh working area (``AUTOPORT_HOME``, a temporary folder unless set) so that ``promote`` and
serving the champion find them; ``serve`` alone needs the ``AUTOPORT_HOME`` of an earlier
``agent`` step. Some pages include line ranges of the outputs (``stress.txt:17:32``): after a
run, ``mkdocs serve`` and check those sections still start where the pages expect.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
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
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow serve starts uvicorn
}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _children_cpu() -> float:
    """CPU seconds of finished child processes (wall time depends on the machine's load)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(step: str, args: list[str], *, expect_fail: bool | None = False, shown: str | None = None,
        append: bool = False) -> subprocess.CompletedProcess:
    """Run ``autoport ARGS``; save the command and what it printed (stderr too on failure)."""
    t0, cpu0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run([AUTOPORT, *args], cwd=ROOT, env=ENV, capture_output=True, text=True)
    took, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    failed = proc.returncode != 0
    if expect_fail is not None and failed != expect_fail:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{step}: autoport {' '.join(args)} exited {proc.returncode}")
    text = proc.stdout
    if failed:
        text += proc.stderr + f"(exit code {proc.returncode})\n"
    command = shown or "autoport " + " ".join(args)
    # The working area is a temporary folder here; shown as the default ./autoport_home.
    text = ANSI.sub("", text).replace(str(HOME / "prices") + "/", "")
    text = text.replace(str(HOME), "autoport_home")
    record = f"$ {command}\n{text.rstrip()}\n"
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{step}.txt"
    with path.open("a" if append else "w") as fh:
        fh.write(("\n" if append else "") + record)
    print(f"[{took:6.1f} s, CPU {cpu:6.1f} s] {step}: {command}", flush=True)
    found = re.search(re.escape(str(HOME / "runs")) + r"/[\w.:\-]+", proc.stdout + proc.stderr)
    proc.folder = Path(found.group(0)) if found else None
    return proc


# The figures the pages show, per step (a command draws more; only these are kept).
SHOWN = {
    "backtest": ("comparison.png", "weights.png", "tear_sheet.png"),
    "backtest-regime": ("regime_timeline.png",),
    "autopilot": ("weights.png",),
    "promote-mpt": ("test_period.png",),
    "promote-dqn": ("episodes.png",),
}


def keep_figures(step: str, folder: Path) -> None:
    """Copy the PNGs a command drew (those the pages show) into docs/img/<step>/."""
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
    proc = run("optimize", ["optimize", "--objective", "max_sharpe", "--constraints",
                            "configs/constraints.example.yaml", "--no-track"])
    keep_figures("optimize", proc.folder)
    proc = run("optimize-pareto", ["optimize", "--objective", "min_cdar", "--pareto",
                                   "return,cdar", "--no-track"])
    keep_figures("optimize-pareto", proc.folder)
    bad = HOME / "infeasible.yaml"
    bad.write_text("long_only: true\nmax_position: 0.04\n")
    run("optimize-infeasible", ["optimize", "--objective", "min_variance", "--constraints",
                                str(bad), "--no-track"], expect_fail=True,
        shown="autoport optimize --objective min_variance --constraints infeasible.yaml")


def step_stress() -> None:
    proc = run("stress", ["stress", "--strategy", "mpt", "--method", "all", "--paths", "20000",
                          "--no-track"])
    keep_figures("stress", proc.folder)


def step_regime() -> None:
    proc = run("regime", ["regime"])
    keep_figures("regime", proc.folder)
    proc = run("backtest-regime", ["backtest", "--strategy", "regime", "--engine", "sim",
                                   "--start", "2018-01-01", "--no-track"])
    keep_figures("backtest-regime", proc.folder)


def step_autopilot() -> None:
    proc = run("autopilot", ["backtest", "--config", "configs/autopilot_backtest.yaml",
                             "--engine", "sim", "--start", "2018-01-01", "--no-track"])
    keep_figures("autopilot", proc.folder)
    keep_text("autopilot", proc.folder, "decisions.txt", lines=12)
    keep_sections("autopilot", proc.folder / "decisions.md",
                  ("switched to the defensive allocation", "restored the normal allocation"))
    keep_text("autopilot", proc.folder, "decisions.jsonl", lines=3)
    keep_text("autopilot", proc.folder, "after_tax.json")


def step_agent() -> None:
    """A short DQN training, its promotion (refused), an MPT promotion and serving it."""
    proc = run("train-agent", ["train-agent", "--timesteps", "4000", "--seed", "0"])
    keep_figures("train-agent", proc.folder)
    dqn_run = re.search(r"[0-9a-f]{32}", proc.stdout + proc.stderr)
    if dqn_run:
        proc = run("promote-dqn", ["promote", dqn_run.group(0)], expect_fail=True,
                   shown="autoport promote DQN_RUN_ID")
        if proc.folder:
            keep_figures("promote-dqn", proc.folder)
    proc = run("promote-candidate", ["backtest", "--strategy", "mpt", "--engine", "sim",
                                     "--start", "2019-01-01", "--end", "2020-12-31"])
    candidate = re.search(r"run[^0-9a-f]{0,12}([0-9a-f]{32})", proc.stdout + proc.stderr)
    if candidate is None:
        raise SystemExit("promote: no run id in the backtest's output")
    args = ["promote", candidate.group(1), "--test-start", "2021-01-01"]
    first = run("promote-mpt", args, expect_fail=None,
                shown="autoport promote RUN_ID --test-start 2021-01-01")
    if first.returncode != 0:
        gates = HOME / "gates_demo.yaml"
        gates.write_text((DOCS / "examples" / "gates_demo.yaml").read_text())
        first = run("promote-mpt", [*args, "--gates", str(gates)],
                    shown="autoport promote RUN_ID --test-start 2021-01-01 "
                          "--gates docs/examples/gates_demo.yaml", append=True)
    if first.folder:
        keep_figures("promote-mpt", first.folder)
    run("promote-list", ["promote", "--list"])
    run("runs", ["runs", "--limit", "6"])
    step_serve()


def step_serve() -> None:
    """``mlflow models serve`` on the champion, one request, its response kept.

    Needs the champion registered by the ``agent`` step in the same ``AUTOPORT_HOME``.
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
    print("[serve] models:/autoport-mpt@champion answered", flush=True)


def step_sweep() -> None:
    proc = run("sweep", ["sweep", "experiments/sweeps/mpt.yaml", "--num-cpus", "2",
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
    frame.iloc[:15, 2] = float("nan")
    cases["late_listing"] = frame
    cases["duplicate_dates"] = pd.concat([good.iloc[:50], good.iloc[49:]])
    cases["unsorted_dates"] = good.iloc[::-1]
    cases["one_asset"] = good[["AAPL"]]
    frame = good.copy()
    frame.index = frame.index.where(frame.index != pd.Timestamp("2020-07-06"),
                                    pd.Timestamp("2020-07-04"))
    cases["not_sessions"] = frame
    cases["row_index"] = good.reset_index(drop=True)
    cases["short_history"] = good.iloc[:30]
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
        shown_engine = "" if name == "not_sessions" else " --engine sim"
        run(step, ["backtest", "--strategy", "equal_weight", "--prices", str(path),
                   "--window", "60", *engine, "--no-track"], expect_fail=not accepted,
            shown=f"autoport backtest --strategy equal_weight --window 60{shown_engine} "
                  f"--prices {name}.csv",
            append=i > 0)
        head = path.read_text().splitlines()[:3]
        (OUT / f"prices-{name}-head.csv").write_text("\n".join(head) + "\n")


STEPS = {
    "optimize": step_optimize,
    "stress": step_stress,
    "regime": step_regime,
    "prices": step_prices,
    "autopilot": step_autopilot,
    "backtest": step_backtest,
    "agent": step_agent,
    "sweep": step_sweep,
    "serve": step_serve,
}


def main(names: list[str]) -> None:
    unknown = set(names) - set(STEPS)
    if unknown:
        raise SystemExit(f"unknown steps {sorted(unknown)}; choose from {sorted(STEPS)}")
    print(f"AUTOPORT_HOME={HOME}", flush=True)
    t0 = time.perf_counter()
    for name in names or [n for n in STEPS if n != "serve"]:
        STEPS[name]()
    print(f"done in {time.perf_counter() - t0:.0f} s (CPU of the commands {_children_cpu():.0f} s)",
          flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

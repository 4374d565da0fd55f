"""The backtest tear sheet (``autoport.reporting.save_tear_sheet``) beside pyfolio's own path.

Run: ``python experiments/bench/bench_tear_sheet.py [--sessions 130,1000,8000] [--repeat 2]``.
For each length, the strategy (five bundled stocks), 1/N and a benchmark on the last N bundled
sessions are drawn both ways in this process, taken in turn: the reference is the tear sheet as
drawn before issue 13 item 9 (pyfolio's ``create_returns_tear_sheet`` untouched but for the
rolling beta, the same renaming and 1/N line, ``savefig(bbox_inches="tight")``). Prints the best
CPU seconds of each (``time.process_time``: the machine is shared), their ratio, and the number
of pixels in which the two PNGs differ (0: the same picture).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from autoport import data, reporting  # noqa: E402
from autoport.testing import save_pyfolio_tear_sheet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="130,1000,8000")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rets_all = data.bundled_prices().pct_change().dropna()
    index_all = data.bundled_benchmark().pct_change()
    folder = Path(tempfile.mkdtemp())
    for n in (int(s) for s in args.sessions.split(",")):
        rets = rets_all.iloc[-n:]
        strategy, baseline = rets.iloc[:, :5].mean(axis=1), rets.mean(axis=1)
        bench = index_all.reindex(strategy.index).fillna(0.0)
        ref, new = [], []
        for _ in range(args.repeat):
            t = time.process_time()
            save_pyfolio_tear_sheet(strategy, bench.rename("S&P 500"), folder / "ref.png", baseline)
            ref.append(time.process_time() - t)
            t = time.process_time()
            reporting.save_tear_sheet(strategy, bench, folder / "new.png", name="mpt",
                                      baseline=baseline)
            new.append(time.process_time() - t)
        with Image.open(folder / "ref.png") as a, Image.open(folder / "new.png") as b:
            ra, nb = np.asarray(a), np.asarray(b)
        differ = int((ra != nb).any(axis=-1).sum()) if ra.shape == nb.shape else "sizes differ"
        print(f"{n:>6} sessions: pyfolio's path {min(ref):.2f} s, save_tear_sheet "
              f"{min(new):.2f} s CPU: {min(ref) / min(new):.2f}x faster; pixels differing: "
              f"{differ}")


if __name__ == "__main__":
    main()

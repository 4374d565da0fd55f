"""Progress on long waits: on stderr, only to a terminal; the regime refits report a count the
bar can trust (as many calls as fits, ending at the total)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from rich.console import Console

from autoport_cli import common


def test_refits_are_counted_for_the_bar():
    from autoport.regime.online import OnlineRegimeFilter

    rng = np.random.default_rng(0)
    feats = pd.DataFrame(rng.normal(size=(330, 2)), columns=["ret", "vol"],
                         index=pd.bdate_range("2010-01-01", periods=330))
    online = OnlineRegimeFilter(min_train=120, refit_every=50, n_restarts=1)
    calls: list[tuple[int, int]] = []
    online.on_fit = lambda done, total: calls.append((done, total))
    online.update(feats.iloc[:200])  # grid points 120, 170
    online.update(feats.iloc[200:])  # 220, 270, 320
    assert online.n_fits == 5
    assert calls == [(1, 2), (2, 2), (1, 3), (2, 3), (3, 3)]


def _console(monkeypatch, terminal: bool) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console",
                        Console(file=out, force_terminal=terminal, width=100))
    return out


def test_spinner_and_bar_only_on_a_terminal_and_never_when_quiet(monkeypatch):
    for terminal, quiet, shown in ((True, False, True), (False, False, False),
                                   (True, True, False)):
        out = _console(monkeypatch, terminal)
        with common.waiting("drawing the tear sheet", quiet=quiet) as say:
            say("still drawing")
        with common.counting("regime model", "refits", quiet=quiet) as advance:
            advance(3, 3)
        text = out.getvalue()
        assert ("regime model" in text and "3/3" in text) is shown, (terminal, quiet, text)
        assert common.show_progress(quiet) is (terminal and not quiet)

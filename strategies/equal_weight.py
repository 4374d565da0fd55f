"""1/N: the baseline every headline figure stands beside (DeMiguel et al. 2009)."""

from __future__ import annotations

import pandas as pd

from autoport.decision import Book, Decision


class EqualWeight:
    name = "equal_weight"
    min_history = 1

    def decide(self, history: pd.DataFrame, book: Book | None = None) -> Decision:
        n = history.shape[1]
        weights = pd.Series(1.0 / n, index=history.columns)
        return Decision(history.index[-1], weights, f"1/N over {n} assets")

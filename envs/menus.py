"""The decision menus of a whole price panel: built in one pass, kept on disk.

The env reads a menu (the weights of each allocation it offers) at every decision, and a
training run may open an episode on any session, so every session's menu is needed. Built one
session at a time through the general optimizer (:func:`reference_menu_weights`, three cvxpy
solves and three re-estimations of μ and Σ per session) that took 85 ms a session. Here each
session estimates μ and Σ once, straight from the price array, and solves min variance and max
Sharpe on the exact critical-line path (:mod:`autoport.optimize._homotopy`), warm-started from
the previous session's active set; risk parity is the optimizer's own Newton solve.

Exactness: the path's points are recomputed by one dense KKT solve of the final active set, so a
menu depends only on the prices up to its session, not on the warm start: the env's batched build
and a strategy's one-session build agree to rounding (1e-16; numpy's SIMD kernels may round by
memory alignment, so not always to the bit). They differ from the reference's conic solves by
the solver's tolerance: up to ~1e-5 in min-variance weights, whose objective is flat at the
optimum (the exact point's variance is never higher), and ~1e-6 in max Sharpe, where Clarabel's
point may sit 1e-9 above the cap.

Disk cache: ``$AUTOPORT_HOME/cache/menus/<key>.npz``, the key a SHA-256 of the panel's content
hash, the settings that shape a menu (:data:`MENU_SETTINGS`) and :data:`MENU_VERSION`; written
atomically (temporary file, then rename). A changed price or setting is another key.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from autoport import data as data_mod
from autoport import workspace
from autoport.estimators import window_estimates
from autoport.envs.config import EnvConfig
from autoport.errors import DataError, OptimizationError
from autoport.optimize import Constraints
from autoport.optimize import constraints as C
from autoport.optimize._homotopy import solve as lapack_solve
from autoport.optimize.warm import PathFailed, WarmPath

MENU_VERSION = 1  # bump when the menu's numbers change for the same prices and settings
MENU_SETTINGS = ("estimation_window", "vol_window", "momentum_window", "max_weight",
                 "defensive_cash", "actions")
_TABLES: dict[str, MenuTable] = {}  # key -> table, per process
_TABLES_LIMIT = 4


def _inverse_vol(returns: np.ndarray, vol: np.ndarray | None = None) -> np.ndarray:
    """``vol``: ``returns.std(axis=0, ddof=1)`` when the caller has it."""
    if vol is None:
        vol = returns.std(axis=0, ddof=1)
    inv = 1.0 / np.maximum(vol, 1e-8)
    return inv / inv.sum()


def _tilt(score: np.ndarray, strength: float = 0.5) -> np.ndarray:
    """1/N tilted toward high scores by rank: weights from (1-s)/N to (1+s)/N."""
    n = len(score)
    ranks = score.argsort().argsort() / max(n - 1, 1)  # 0 (lowest) .. 1 (highest)
    w = 1.0 + strength * (2.0 * ranks - 1.0)
    return w / w.sum()


def _assemble(rows: list[np.ndarray], config: EnvConfig) -> np.ndarray:
    menu = np.clip(np.vstack(rows), 0.0, None)
    menu = menu / menu.sum(axis=1, keepdims=True)
    for i, name in enumerate(config.actions):
        if name == "defensive":
            menu[i] *= 1.0 - config.defensive_cash
    return menu


def _check_history(n_rows: int, config: EnvConfig) -> None:
    if n_rows < config.history_needed:
        raise DataError(
            f"the menu needs {config.history_needed} sessions up to the decision, got "
            f"{n_rows}; start later or shorten estimation_window"
        )


# ------------------------------------------------------------------------- the reference


def _optimised(window: pd.DataFrame, objective: str, max_weight: float) -> np.ndarray:
    from autoport import portfolio
    from autoport.decision import check_weights

    try:
        solution = portfolio.solve(window, objective=objective, max_weight=max_weight)
        return check_weights(solution.weights).to_numpy()
    except OptimizationError:
        # the menu must always offer every item; an unsolvable window holds 1/N and says so
        # through the equal weights themselves (rare: solvers fail on degenerate windows)
        return np.full(window.shape[1], 1.0 / window.shape[1])


def reference_menu_weights(history: pd.DataFrame, config: EnvConfig) -> np.ndarray:
    """The straightforward build of one session's menu: each optimised item through
    :func:`autoport.portfolio.solve` (estimates and a conic solve per item). Kept as the
    reference the tests and ``experiments/bench/bench_menus.py`` compare with, and as the
    fallback when the exact path fails on a window."""
    _check_history(len(history), config)
    window = history.iloc[-(config.estimation_window + 1):]
    values = history.to_numpy()
    n = history.shape[1]
    cap = max(config.max_weight, 1.0 / n)
    daily = np.diff(np.log(values[-(config.vol_window + 1):]), axis=0)
    rows = []
    min_var = None
    for name in config.actions:
        if name == "equal_weight":
            w = np.full(n, 1.0 / n)
        elif name in ("min_variance", "defensive"):
            if min_var is None:
                min_var = _optimised(window, "min_variance", cap)
            w = min_var
        elif name == "max_sharpe":
            w = _optimised(window, "max_sharpe", cap)
        elif name == "risk_parity":
            w = _optimised(window, "risk_parity", 1.0)
        elif name == "inverse_vol":
            w = _inverse_vol(daily)
        elif name == "momentum_tilt":
            w = _tilt(values[-1] / values[-(config.momentum_window + 1)])
        elif name == "low_vol_tilt":
            w = _tilt(-daily.std(axis=0, ddof=1))
        else:  # guarded by EnvConfig
            raise DataError(f"unknown menu item {name!r}")
        rows.append(w)
    return _assemble(rows, config)


# ------------------------------------------------------------------------- the fast build


# the estimates of one window straight from its price array (the core's, shared with MPT)
estimates = window_estimates


def _clean(w: np.ndarray) -> np.ndarray | None:
    """The reference's post-processing: dust to zero, long-only budget check, renormalise."""
    w = np.where(np.abs(w) > 1e-8, w, 0.0)
    if not np.isfinite(w).all() or (w < -1e-6).any() or abs(w.sum() - 1.0) > 1e-4:
        return None
    w = np.clip(w, 0.0, None)
    return w / w.sum()


class _Builder:
    """One session's menu at a time; its :class:`WarmPath` remembers the last min-variance and
    max-Sharpe active sets as the next session's starting guesses (only the time depends on
    them)."""

    def __init__(self, tickers, config: EnvConfig) -> None:
        self.config = config
        self.tickers = list(tickers)
        n = len(self.tickers)
        self.cap = max(config.max_weight, 1.0 / n)
        self.path = WarmPath(C.resolve(Constraints(upper=self.cap), self.tickers))
        self.fallbacks = 0  # sessions where the path failed and the reference solved
        self.need = {"min_variance", "defensive", "max_sharpe", "risk_parity"} & set(
            config.actions)  # the optimised items

    def menu(self, values: np.ndarray, history) -> np.ndarray:
        """``values``: the price rows up to the decision (at least ``history_needed``);
        ``history()`` gives them as a DataFrame, for the reference when the path fails."""
        cfg = self.config
        n = values.shape[1]
        need = self.need
        mv = ms = rp = None
        if need:
            mu, cov = estimates(values[-(cfg.estimation_window + 1):])
            if need & {"min_variance", "defensive", "max_sharpe"}:
                mv, ms = self._path(mu, cov, "max_sharpe" in need)
            if "risk_parity" in need:
                rp = self._risk_parity(cov)
        daily = np.diff(np.log(values[-(cfg.vol_window + 1):]), axis=0)
        vol = None  # the daily returns' volatility, for inverse_vol and low_vol_tilt
        rows = []
        for name in cfg.actions:
            if name == "equal_weight":
                w = np.full(n, 1.0 / n)
            elif name in ("min_variance", "defensive"):
                w = mv
            elif name == "max_sharpe":
                w = ms
            elif name == "risk_parity":
                w = rp
            elif name == "inverse_vol":
                vol = daily.std(axis=0, ddof=1) if vol is None else vol
                w = _inverse_vol(daily, vol)
            elif name == "momentum_tilt":
                w = _tilt(values[-1] / values[-(cfg.momentum_window + 1)])
            elif name == "low_vol_tilt":
                vol = daily.std(axis=0, ddof=1) if vol is None else vol
                w = _tilt(-vol)
            else:  # guarded by EnvConfig
                raise DataError(f"unknown menu item {name!r}")
            if w is None:  # the exact path failed on this window: the reference solves it
                self.fallbacks += 1
                return reference_menu_weights(history(), cfg)
            rows.append(w)
        return _assemble(rows, cfg)

    def _path(self, mu: np.ndarray, cov: np.ndarray, sharpe: bool):
        """(min variance, max Sharpe at rf 0); None where the exact path fails.

        Warm-started from the previous session's active sets (:class:`WarmPath`), which
        changes the time, not the numbers. Where nothing beats rf 0 max Sharpe is min
        variance, as the reference's ``fallback_to_min_variance`` holds.
        """
        try:
            found = self.path.solve(mu, cov, sharpe=sharpe, rf=0.0)
        except PathFailed:
            return None, None
        return _clean(found.min_variance), (_clean(found.max_sharpe) if sharpe else None)

    def _risk_parity(self, cov: np.ndarray) -> np.ndarray | None:
        y = equal_risk(cov)
        return None if y is None else _clean(y / y.sum())


def equal_risk(cov: np.ndarray, iters: int = 60) -> np.ndarray | None:
    """Spinu's ``min ½ yᵀΣy − Σ log(y_i)/n`` by damped Newton, as
    :func:`autoport.optimize.risk_budgeting` (same start, steps and line search), with a
    stopping rule at rounding level: once the predicted decrease is below 1e-15·|f| the Armijo
    test can no longer tell a better point, so one full step ends the solve. (The optimizer's
    loop keeps halving there, up to 100 iterations of about 20 line-search evaluations on
    about one window in eight; the weights differ by up to ~1e-10.)
    """
    n = len(cov)
    b = np.full(n, 1.0 / n)
    scale = np.sqrt(np.diag(cov))
    y = b / scale / np.sqrt(b / scale @ cov @ (b / scale))

    def f(v):
        return np.inf if (v <= 0).any() else 0.5 * v @ cov @ v - b @ np.log(v)

    fy = f(y)
    hess = np.empty((n, n))
    diagonal = hess.reshape(-1)[:: n + 1]  # a view: cov + diag(b/y²) without the n×n diagonal
    for _ in range(iters):
        grad = cov @ y - b / y
        np.copyto(hess, cov)
        diagonal += b / y**2
        try:
            step = lapack_solve(hess, grad)  # np.linalg.solve's floats, without its checks
        except np.linalg.LinAlgError:
            return None
        dec = float(grad @ step)
        if dec < 1e-24:
            return y
        if dec < 1e-15 * max(1.0, abs(fy)):
            return y - step if np.all(y - step > 0) else y
        t = 1.0
        # the accepted trial point is the next iterate: its f is the next iteration's f(y)
        while (f_new := f(trial := y - t * step)) > fy - 0.25 * t * dec:
            t *= 0.5
            if t < 1e-12:
                return y
        y, fy = trial, f_new
    return y


def _chain(first, rest):
    yield first
    yield from rest


def _rows_of(prices: pd.DataFrame) -> np.ndarray:
    """The prices as a C-ordered array: BLAS and numpy's sums round by memory layout, and a
    DataFrame's layout depends on how it was made (a copy, a slice): one layout for all."""
    return np.ascontiguousarray(prices.to_numpy(dtype=float))


def menu_weights(history: pd.DataFrame, config: EnvConfig) -> np.ndarray:
    """One session's menu (the last row of ``history``), as the batched build computes it."""
    return SessionMenus(config)(history)


class SessionMenus:
    """One session's menu at a time (:func:`menu_weights`), for a strategy deciding on a
    growing history: the builder of the listed assets is kept from one call to the next, so
    each menu's solves start from the previous decision's active sets. That changes the time
    (a monthly DQN backtest's menus took 2-3x less), not the numbers: each point is the dense
    KKT solve of its final active set (see the module docstring)."""

    def __init__(self, config: EnvConfig) -> None:
        self.config = config
        self._builder: _Builder | None = None  # of the last set of listed assets

    def _of(self, tickers) -> _Builder:
        if self._builder is None or self._builder.tickers != list(tickers):
            self._builder = _Builder(tickers, self.config)
        return self._builder

    def __call__(self, history: pd.DataFrame, array: np.ndarray | None = None) -> np.ndarray:
        """The menu at ``history``'s last row; ``array``: ``history.to_numpy(dtype=float)``
        when the caller has it (its last rows are then read without slicing the frame)."""
        config = self.config
        _check_history(len(history), config)
        tail = (history.iloc[-config.history_needed:] if array is None
                else array[-config.history_needed:])
        values = np.ascontiguousarray(tail, dtype=float)  # as _rows_of: one layout for all
        if np.isnan(values).any():  # a ragged panel: the menu of the listed assets
            cols = np.flatnonzero(~np.isnan(values).any(axis=0))
            _check_listed(cols, history.index[-1], config)
            out = np.zeros((len(config.actions), history.shape[1]))
            sub = history.iloc[-config.history_needed:, cols]
            out[:, cols] = self._of(sub.columns).menu(_rows_of(sub), lambda: sub)
            return out
        return self._of(history.columns).menu(values, lambda: history)


def _check_listed(cols: np.ndarray, date: pd.Timestamp, config: EnvConfig) -> None:
    if len(cols) == 0:
        raise DataError(
            f"no asset has {config.history_needed} sessions of prices up to {date.date()} "
            "(the menu's history); pass a later --start")


def build(prices: pd.DataFrame, config: EnvConfig, first: int) -> np.ndarray:
    """Menus of rows ``first .. len(prices) - 1``, shape (rows, n_actions, n_assets).

    On a ragged panel (late listings, delistings) each row's menu is over the assets priced
    on each of its last ``history_needed`` rows (:func:`autoport.data.investable_mask`): an
    asset enters once it has the menu's estimation window and leaves at its last price;
    the others get weight 0 in every item (1/N is over the listed assets).
    """
    _check_history(first + 1, config)
    values = _rows_of(prices)
    need = config.history_needed
    out = np.empty((len(prices) - first, len(config.actions), prices.shape[1]))
    if np.isnan(values).any():
        return _build_ragged(prices, values, config, first, out)
    builder = _Builder(prices.columns, config)
    for k, row in enumerate(range(first, len(prices))):
        out[k] = builder.menu(values[max(0, row + 1 - need): row + 1],
                              lambda row=row: prices.iloc[: row + 1])
    return out


def _build_ragged(prices, values, config, first, out) -> np.ndarray:
    """:func:`build` on a ragged panel: one builder (and warm start) per set of listed assets."""
    need = config.history_needed
    listed = data_mod.investable_mask(prices, need)
    out[:] = 0.0
    builder, held = None, None
    for k, row in enumerate(range(first, len(prices))):
        cols = np.flatnonzero(listed[row])
        _check_listed(cols, prices.index[row], config)
        if held is None or not np.array_equal(cols, held):
            builder, held = _Builder(prices.columns[cols], config), cols
        window = np.ascontiguousarray(values[row + 1 - need: row + 1][:, cols])
        out[k][:, cols] = builder.menu(
            window, lambda row=row, cols=cols: prices.iloc[row + 1 - need: row + 1, cols])
    return out


# ------------------------------------------------------------------------- the disk cache


def cache_key(prices: pd.DataFrame, config: EnvConfig, *, names=MENU_SETTINGS) -> str:
    """SHA-256 of what decides the menus: the prices' content, the menu settings, the version."""
    settings = {name: getattr(config, name) for name in names}
    payload = json.dumps({"prices": data_mod.content_hash(prices), "settings": settings,
                          "version": MENU_VERSION}, sort_keys=True, default=list)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _family(prices: pd.DataFrame, config: EnvConfig) -> str:
    return cache_key(prices, config, names=tuple(n for n in MENU_SETTINGS if n != "actions"))


def _derive(family: str, config: EnvConfig) -> MenuTable | None:
    """The items of a table already in this process whose menu holds all of ``config``'s
    (each item is computed on its own, so its rows are the same numbers): the DQN's baselines
    (3 items) read the agent's 8-item table instead of building their own."""
    for found in _TABLES.values():
        if found.family == family and set(config.actions) <= set(found.actions):
            idx = [found.actions.index(a) for a in config.actions]
            return MenuTable(found.first, found.menus[:, idx, :].copy(), "derived",
                             config.actions, family)
    return None


def cache_dir() -> Path:
    return workspace.home() / "cache" / "menus"


class MenuTable:
    """Every session's menu of one panel: ``at(row)`` for rows from ``first`` on."""

    def __init__(self, first: int, menus: np.ndarray, source: str,
                 actions: tuple[str, ...] = (), family: str = "") -> None:
        self.first = int(first)
        self.menus = menus
        self.menus.setflags(write=False)
        self.source = source  # "built", "disk" or "derived" (items of a larger table)
        self.actions = tuple(actions)
        self.family = family  # cache key without the actions: tables that can share items

    def at(self, row: int) -> np.ndarray:
        if row < self.first or row - self.first >= len(self.menus):
            raise DataError(f"no menu for row {row}: menus start at row {self.first}")
        return self.menus[row - self.first]


def table(prices: pd.DataFrame, config: EnvConfig, *, use_disk: bool = True) -> MenuTable:
    """The panel's menus from this process (or the items of a larger menu of the same panel
    and settings in it), else from disk, else built (and saved)."""
    key = cache_key(prices, config)
    first = config.history_needed - 1
    found = _TABLES.get(key)
    # the key leaves out what only moves the first row (the regime features' warm-up): a table
    # held from an earlier first row holds every later row too, one from a later row does not
    if found is not None and found.first <= first:
        return found
    shape = (len(prices) - first, len(config.actions), prices.shape[1])
    family = _family(prices, config)
    path = cache_dir() / f"{key}.npz"
    found = _derive(family, config)
    if found is None or found.first != first:
        found = _load(path, first, shape, config.actions, family) if use_disk else None
    if found is None:
        found = MenuTable(first, build(prices, config, first), "built", config.actions,
                          family)
        if use_disk:
            _save(path, found)
    if len(_TABLES) >= _TABLES_LIMIT:
        _TABLES.clear()
    _TABLES[key] = found
    return found


def _load(path: Path, first: int, shape: tuple, actions, family: str) -> MenuTable | None:
    try:
        with np.load(path) as stored:
            menus, stored_first = stored["menus"], int(stored["first"])
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - unreadable (truncated, foreign): build it again
        return None
    if stored_first != first or menus.shape != shape:
        return None
    return MenuTable(first, menus, "disk", actions, family)


def _save(path: Path, found: MenuTable) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, menus=found.menus, first=np.int64(found.first))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the working area's files are not
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def held() -> dict[str, MenuTable]:
    """The tables this process holds, by key (a sweep's driver hands them to its workers)."""
    return dict(_TABLES)


def install(tables: dict[str, MenuTable]) -> None:
    """Hold ``tables`` (from :func:`held` in another process) as if built here."""
    _TABLES.update(tables)


def clear_process_cache() -> None:
    """Forget the tables held in this process (the disk cache stays)."""
    _TABLES.clear()

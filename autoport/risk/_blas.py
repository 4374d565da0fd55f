"""Run the risk engine's BLAS calls single-threaded.

Its linear algebra is small per call (matrix-vector products, an n x n covariance from a
window); OpenBLAS's thread pool costs more than it gains at that size and stalls when the
cores are shared: on the 2-core test box under load, a 1000 x 500 covariance took 376 ms with
the default pool and 8.6 ms single-threaded, a parametric VaR 4.0 ms against 0.21 ms. Monte
Carlo parallelises over chunks of paths itself. The limit is process-wide while a call runs
(threadpoolctl, already installed with scikit-learn) and restored afterwards.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)
_controller = None


def single_threaded_blas():
    """A context manager limiting BLAS to one thread (a no-op without threadpoolctl)."""
    global _controller
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()  # scanning libraries once: ~ms
        return _controller.limit(limits=1, user_api="blas")  # ~5 us per call afterwards
    except ImportError:  # pragma: no cover - optional dependency
        return contextlib.nullcontext()


def blas_single(fn: F) -> F:
    """Decorator form of :func:`single_threaded_blas`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

"""One BLAS thread limiter for the whole core (the risk engine and the optimizer's dense steps).

numpy, scipy and scs each ship an OpenBLAS; their thread pools cost more than they gain on the
small products and factorisations here, and stall when the cores are shared: on the 2-core test
box under load, a 1000 x 500 covariance took 376 ms with the default pool and 8.6 ms
single-threaded, a parametric VaR 4.0 ms against 0.21 ms, and one factorisation with two pools
spinning up to 20x longer. Monte Carlo parallelises over chunks of paths itself. The limit is
process-wide while a call runs (threadpoolctl, installed with scikit-learn) and restored after.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)
_controller = None


def single_threaded_blas(size: int | None = None, threshold: int = 200):
    """A context manager limiting BLAS to one thread (a no-op without threadpoolctl).

    ``size``: the side of the matrix a dense step works on; below ``threshold`` the limit is
    skipped, since its bookkeeping (microseconds once the libraries are scanned) is all a
    small step would see.
    """
    global _controller
    if size is not None and size < threshold:
        return contextlib.nullcontext()
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()  # scanning libraries once: ~ms
        return _controller.limit(limits=1, user_api="blas")  # ~5 us per call afterwards
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return contextlib.nullcontext()


def blas_single(fn: F) -> F:
    """Decorator form of :func:`single_threaded_blas`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

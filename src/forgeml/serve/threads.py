"""One native thread per server worker.

A server runs one worker per core and scores small requests; OpenMP and BLAS pools that
spread each request over every core only make the workers wait on each other (a
histogram gradient boosting model answered 47 times slower under load). So each worker
limits every native pool it has loaded (OpenMP, OpenBLAS, MKL) to one thread, and sets the
usual variables for pools that load later.
"""

from __future__ import annotations

import os

__all__ = ["pin_native_threads"]

_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pin_native_threads() -> None:
    """Limit every native thread pool of this process to one thread."""
    from threadpoolctl import threadpool_limits

    for name in _VARIABLES:
        os.environ[name] = "1"
    threadpool_limits(limits=1)

"""One thread per server worker: native pools and scikit-learn's ``n_jobs``.

A server runs one worker per core and scores small requests; OpenMP and BLAS pools that
spread each request over every core only make the workers wait on each other (a
histogram gradient boosting model answered 47 times slower under load). So each worker
limits every native pool it has loaded (OpenMP, OpenBLAS, MKL) to one thread, and sets the
usual variables for pools that load later (:func:`pin_native_threads`).

scikit-learn's forests and meta-estimators parallelise through joblib instead, which no
native limit reaches: a ``RandomForestClassifier(n_jobs=-1)`` starts a thread per core for
every request. :func:`one_job` sets ``n_jobs=1`` on every estimator inside a served model.

>>> from sklearn.ensemble import RandomForestClassifier
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3, n_jobs=-1))
>>> model = model.fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
>>> one_job(model)
1
>>> model[-1].n_jobs
1
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["one_job", "pin_native_threads"]

_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pin_native_threads() -> None:
    """Limit every native thread pool of this process to one thread."""
    from threadpoolctl import threadpool_limits

    for name in _VARIABLES:
        os.environ[name] = "1"
    threadpool_limits(limits=1)


def one_job(model: Any) -> int:
    """Set ``n_jobs=1`` on every estimator in ``model``, in place; returns how many changed.

    Walks the parameters and fitted attributes of scikit-learn objects (a ``Pipeline``'s
    steps, a ``ColumnTransformer``'s transformers, a forest's ``estimators_``, a calibrated
    classifier's fitted copies), through lists, tuples and dicts. ``n_jobs`` only says how
    many workers share the work, so predictions stay the same.
    """
    changed = 0
    seen: set[int] = set()
    stack = [model]
    while stack:  # no recursion: pipelines of meta-estimators nest deeply
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif _walked(value):
            changed += _set_one_job(value)
            stack.extend(vars(value).values())
    return changed


def _walked(value: Any) -> bool:
    """scikit-learn estimators (any library's) and scikit-learn's own helper objects."""
    if not hasattr(value, "__dict__") or isinstance(value, type):
        return False
    return hasattr(value, "get_params") or type(value).__module__.startswith("sklearn.")


def _set_one_job(value: Any) -> int:
    get_params = getattr(value, "get_params", None)
    if get_params is not None and "n_jobs" in get_params(deep=False):
        if get_params(deep=False)["n_jobs"] == 1:
            return 0
        value.set_params(n_jobs=1)
        return 1
    if getattr(value, "n_jobs", 1) not in (1, None) and isinstance(value.n_jobs, int):
        value.n_jobs = 1  # a fitted inner copy that is not a full estimator
        return 1
    return 0

"""The search's trials as Ray tasks (``forgeml train --backend ray``).

Optuna's sampler stays in the driver (see :func:`forgeml.training.search.run_search` with a
pool): it asks for a trial as soon as a CPU of the cluster is free, and a Ray task fits and
scores it. The training rows go to the object store once (``ray.put``), not with every
trial, and each worker builds a strategy's feature matrices once and keeps them for the
search's other trials. A task sends back its score and its pruning reports, never a
model: the driver fits the winner again (the same configuration and seed give the same
model), then refits, evaluates, gates and registers it as a local search does.

A deadline crosses machines as seconds left, not as a clock reading: each machine's
``time.monotonic()`` counts from its own start.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

from forgeml.errors import ConfigError, MissingDependency
from forgeml.training.fitting import Matrices, evaluate_trial
from forgeml.training.plan import TrainingPlan
from forgeml.training.search import Cut, Outcome, Params

__all__ = ["RayTrials", "connect"]


def connect(address: str | None) -> Any:
    """The ``ray`` module, connected: to the Ray this process already runs, else to
    ``address`` (``auto``: the cluster started on this machine; None: ``RAY_ADDRESS``, else
    a Ray started for this process)."""
    try:
        import ray
    except ImportError:
        raise MissingDependency("ray", "ray", "train --backend ray") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, TimeoutError) as e:
            raise ConfigError(
                f"cannot reach the Ray cluster at {address!r}: {e}",
                fix="start one (ray start --head), or pass --address with the head's "
                "address (host:port, or ray://host:10001 for a remote cluster)",
            ) from None
    return ray


class RayTrials:
    """A :class:`forgeml.training.search.Pool` that runs each trial as a Ray task.

    ``slots``: how many trials run at once (default: the cluster's CPUs).
    """

    def __init__(
        self, plan: TrainingPlan, use_cv: bool, address: str | None, slots: int | None = None
    ) -> None:
        self._ray = ray = connect(address)
        shipped = dataclasses.replace(
            plan,
            project=None,  # type: ignore[arg-type]  # a worker opens no store
            version=dataclasses.replace(plan.version, project=None),  # type: ignore[arg-type]
        )
        self._data = ray.put(shipped)
        self._token = uuid.uuid4().hex  # which search a worker's cached matrices belong to
        self._use_cv = use_cv
        self._task = ray.remote(num_cpus=1, max_retries=0)(_trial_task)
        cpus = int(ray.available_resources().get("CPU", 0) or ray.cluster_resources()["CPU"])
        self._slots = max(1, slots if slots is not None else cpus)
        self._running: dict[Any, int] = {}

    @property
    def slots(self) -> int:
        return self._slots

    def submit(self, key: int, candidate: str, params: Params, deadline: float | None) -> None:
        left = None if deadline is None else deadline - time.monotonic()
        ref = self._task.remote(self._data, self._token, self._use_cv, candidate, params, left)
        self._running[ref] = key

    def score_again(
        self, candidate: str, params: Params, deadline: float | None, folds_seed: int
    ) -> float | Cut:
        """One trial on cross-validation folds drawn with ``folds_seed``, run as a Ray task
        and waited for (a finalist scored again, see :mod:`forgeml.training.finalists`);
        NaN when it failed."""
        left = None if deadline is None else deadline - time.monotonic()
        ref = self._task.remote(
            self._data, self._token, self._use_cv, candidate, params, left, folds_seed
        )
        try:
            value, _reports, _seconds, _error = self._ray.get(ref)
        except self._ray.exceptions.RayError:
            return float("nan")
        return float("nan") if value is None else value

    def next_done(self) -> tuple[int, Outcome]:
        done, _ = self._ray.wait(list(self._running), num_returns=1)
        key = self._running.pop(done[0])
        try:
            value, reports, seconds, error = self._ray.get(done[0])
        except self._ray.exceptions.RayError as e:  # the worker died, or the task was lost
            return key, Outcome(None, [], 0.0, f"{type(e).__name__}: {e}"[:500])
        return key, Outcome(value, reports, seconds, error)

    def close(self) -> None:
        """Cancel the trials still running (a search that raised leaves some)."""
        for ref in self._running:
            self._ray.cancel(ref, force=True)
        self._running.clear()


# One search's feature matrices per worker process: (token, matrices). A worker runs one
# search's trials at a time; the next search replaces them.
_CACHE: list[tuple[str, Matrices]] = []


def _trial_task(
    plan: TrainingPlan,
    token: str,
    use_cv: bool,
    candidate: str,
    params: Params,
    left: float | None,
    folds_seed: int | None = None,
) -> tuple[float | Cut | None, list[tuple[int, float]], float, str | None]:
    """Run one trial in a worker: its result (None on error), reports, seconds and error."""
    from threadpoolctl import threadpool_limits

    began = time.monotonic()
    if not _CACHE or _CACHE[0][0] != token:
        _CACHE[:] = [(token, Matrices(plan))]
    matrices = _CACHE[0][1]
    reports: list[tuple[int, float]] = []
    deadline = None if left is None else began + left
    try:
        with threadpool_limits(limits=1):  # one CPU per task
            value = evaluate_trial(
                plan,
                plan.candidates[candidate],
                params,
                matrices,
                use_cv,
                lambda step, score: reports.append((step, score)),
                None,
                deadline,
                folds_seed=folds_seed,
            )
    except Exception as e:
        return None, reports, time.monotonic() - began, f"{type(e).__name__}: {e}"
    return value, reports, time.monotonic() - began, None

"""Window profiles computed on Ray: a window's rows are cut into partitions, each profiled
by a Ray task, and the partition profiles merged (profiles of disjoint rows merge by
addition), so ``forgeml monitor --backend ray`` reports what local monitoring reports."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from forgeml.errors import MissingDependency
from forgeml.monitor.profile import WindowProfile, merge_profiles, profile_window
from forgeml.monitor.reference import ReferenceProfile

__all__ = ["ray_profiler"]


def ray_profiler(
    partitions: int = 2, address: str | None = None
) -> Callable[[pa.Table, ReferenceProfile], WindowProfile]:
    """A ``profile`` for :func:`forgeml.monitor.run.monitor` that profiles on Ray."""
    try:
        import ray
    except ImportError:
        raise MissingDependency("ray", "ray", "--backend ray") from None

    def profile(rows: pa.Table, reference: ReferenceProfile) -> WindowProfile:
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        size = max(1, -(-rows.num_rows // partitions))
        parts = [rows.slice(i, size) for i in range(0, rows.num_rows, size)] or [rows]
        task = ray.remote(num_cpus=1)(_profile_part)
        shared = ray.put(reference)
        return merge_profiles(ray.get([task.remote(part, shared) for part in parts]))

    return profile


def _profile_part(rows: pa.Table, reference: ReferenceProfile) -> WindowProfile:
    return profile_window(rows, reference, threads=1)

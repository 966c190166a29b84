"""The printed results: one row per server and concurrency, then each target's verdict."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from loadgen import LoadResult

__all__ = ["Measured", "print_table", "print_targets", "verdict"]

LABELS = {
    "forgeml": "(a) forgeml",
    "mlflow": "(b) mlflow",
    "mlflow-nosig": "(b) mlflow nosig",
    "bare": "(c) bare ASGI",
}
MLFLOW = ("mlflow", "mlflow-nosig")
TARGET_VS_MLFLOW = 40.0
TARGET_P50_MS = 1.0
TARGET_VS_BARE = 0.7


@dataclass(frozen=True)
class Measured:
    """One load run of one server, with the server's CPU time per answered request."""

    load: LoadResult
    cpu_us: float | None
    """Server CPU seconds (all its processes and threads) over 200 responses, warm-up
    included: unlike throughput, it barely moves when other work shares the machine."""


Results = Mapping[str, Mapping[int, Measured]]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(results: Results) -> None:
    header = (
        f"{'server':<18} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'requests':>9} {'errors':>6} {'server CPU us/req':>17}"
    )
    print(header)
    print("-" * len(header))
    for name, runs in results.items():
        for clients, m in runs.items():
            r = m.load
            cpu = m.cpu_us if m.cpu_us is not None else math.nan
            print(
                f"{LABELS[name]:<18} {clients:>7} {r.rps:>9,.0f} {r.p50_us / 1000:>8.3f} "
                f"{r.p99_us / 1000:>8.3f} {r.max_us / 1000:>8.1f} {r.requests:>9,} "
                f"{r.errors:>6} {cpu:>17,.0f}"
            )


def print_targets(results: Results) -> None:
    a, c = results["forgeml"], results["bare"]
    for name in MLFLOW:
        for clients in a:
            ratio = a[clients].load.rps / results[name][clients].load.rps
            print(
                f"target   : (a) throughput >= {TARGET_VS_MLFLOW:g}x {LABELS[name]}'s, "
                f"{clients:>2} clients: {ratio:,.1f}x  {verdict(ratio >= TARGET_VS_MLFLOW)}"
            )
    p50 = a[1].load.p50_us / 1000
    print(
        f"target   : (a) p50 <= {TARGET_P50_MS:g} ms, 1 client: {p50:.3f} ms  "
        f"{verdict(p50 <= TARGET_P50_MS)}"
    )
    for clients in a:
        ratio = a[clients].load.rps / c[clients].load.rps
        print(
            f"target   : (a) throughput >= {TARGET_VS_BARE:g}x (c)'s, {clients:>2} clients: "
            f"{ratio:.2f}x  {verdict(ratio >= TARGET_VS_BARE)}"
        )
    for clients in a:
        cpu = {name: runs[clients].cpu_us for name, runs in results.items()}
        ours = cpu["forgeml"]
        if ours:
            parts = [
                f"{LABELS[n]} {v / ours:,.2f}x" for n, v in cpu.items() if v and n != "forgeml"
            ]
            print(
                f"cpu      : server CPU per request over (a)'s, {clients:>2} clients: "
                + ", ".join(parts)
            )
    busy = max(m.load.busy for runs in results.values() for m in runs.values())
    print(f"loadgen  : its CPU at most {busy:.0%} busy in any run (below 100%: not the limit)")
    errors = sum(m.load.errors_total for runs in results.values() for m in runs.values())
    print(f"errors   : {errors} over all runs (warm-ups included)")

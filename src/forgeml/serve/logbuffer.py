"""Log calls waiting to be written, and turning a batch of them into one table.

>>> buffer = Buffer(limit=3)
>>> buffer.add(FeedbackCall(["a", "b"], [1, 0], 0.0, 2))
>>> buffer.fits(1), buffer.fits(2)
(True, False)
>>> taken = buffer.take()
>>> buffer.put_back(taken)  # the write failed: keep them, in order, for the next one
>>> buffer.done(buffer.take(), written=2)
>>> buffer.rows, buffer.accepted, buffer.written
(0, 2, 2)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from time import time as _now
from typing import Generic, TypeVar

import pyarrow as pa

from forgeml.errors import ConfigError, DataError
from forgeml.serve.logbatch import FeedbackCall, PredictionCall

__all__ = ["Buffer", "Call", "check_settings", "encode_calls", "unix_seconds"]

logger = logging.getLogger("forgeml.serve")

Call = TypeVar("Call", PredictionCall, FeedbackCall)


class Buffer(Generic[Call]):
    """Calls of one kind waiting to be written, with row counts.

    Not thread-safe on its own: the log holds its lock around every use.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.calls: list[Call] = []
        self.rows = 0  # waiting, including a batch being written
        self.accepted = 0
        self.written = 0

    def fits(self, rows: int) -> bool:
        """Whether ``rows`` more stay within the limit (an empty buffer takes any call)."""
        return not self.rows or self.rows + rows <= self.limit

    def add(self, call: Call) -> None:
        self.calls.append(call)
        self.rows += call.rows
        self.accepted += call.rows

    def take(self) -> list[Call]:
        """The calls to write now; their rows count as waiting until :meth:`done`."""
        calls, self.calls = self.calls, []
        return calls

    def put_back(self, calls: list[Call]) -> None:
        """Return calls whose write failed, ahead of any logged since."""
        self.calls[:0] = calls

    def done(self, calls: list[Call], written: int) -> None:
        """``calls`` are written (``written`` rows of them; the rest could not be encoded)."""
        self.rows -= sum(call.rows for call in calls)
        self.written += written


def encode_calls(
    calls: list[Call], build: Callable[[list[Call]], pa.Table], model: str
) -> tuple[pa.Table, int]:
    """The table of ``calls`` and the rows left out of it.

    Values that do not fit become null, so encoding is not expected to fail; if it does,
    the calls that cannot be encoded on their own are left out (and logged) so that one
    bad call cannot block the log forever.
    """
    try:
        return build(calls), 0
    except Exception:
        logger.exception("prediction log of model %r: a batch cannot be encoded", model)
    good: list[Call] = []
    bad = 0
    for call in calls:
        try:
            build([call])
        except Exception:
            bad += call.rows
        else:
            good.append(call)
    return build(good), bad


def unix_seconds(time: float | None) -> float:
    """``time`` as unix seconds; now for None, or for a time that is not finite or before
    year 5138.

    >>> unix_seconds(1.5), unix_seconds(float("nan")) > 1.7e9
    (1.5, True)
    """
    if time is None:
        return _now()
    try:
        value = float(time)
    except (TypeError, ValueError):
        raise DataError(
            f"time={time!r} is not unix seconds",
            fix="pass time as a float (seconds since 1970-01-01 UTC), or leave it out for now",
        ) from None
    return value if math.isfinite(value) and abs(value) < 1e11 else _now()


def check_settings(flush_interval: float, max_buffer_rows: int) -> tuple[float, int]:
    """The log's flush interval (positive seconds) and buffer limit (positive rows)."""
    number = isinstance(flush_interval, int | float) and not isinstance(flush_interval, bool)
    if not (number and math.isfinite(flush_interval) and flush_interval > 0):
        raise ConfigError(
            f"flush_interval={flush_interval!r} for the prediction log is not a positive "
            "number of seconds",
            fix="use e.g. flush_interval=1.0 (at most that much is lost if the server is killed)",
        )
    if (
        not isinstance(max_buffer_rows, int)
        or isinstance(max_buffer_rows, bool)
        or max_buffer_rows < 1
    ):
        raise ConfigError(
            f"max_buffer_rows={max_buffer_rows!r} for the prediction log is not a positive "
            "whole number",
            fix="use e.g. max_buffer_rows=100_000",
        )
    return float(flush_interval), max_buffer_rows

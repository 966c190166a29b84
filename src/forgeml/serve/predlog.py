"""The prediction log: every prediction a server makes, stored without slowing the response.

A :class:`PredictionLog` keeps the calls it is given in memory (references only: logging
a request costs a few microseconds and never touches a disk or a database). A background
thread writes what has gathered every ``flush_interval`` seconds as one Parquet segment
in the project's artifact store and indexes it in the metadata store
(:mod:`forgeml.serve.segments`). Feedback labels travel the same way
(:mod:`forgeml.serve.feedback`).

Durability: :meth:`PredictionLog.close` (also run at interpreter exit) writes everything
still buffered. A process killed outright loses at most what was logged during the last
flush interval and the write in progress; every segment readers can see is complete.

A batch that fails to write (store unreachable, disk full) is logged on the
``forgeml.serve`` logger, counted in ``errors`` and kept for the next interval. When
``max_buffer_rows`` rows are waiting, a log call wakes the background thread and waits for
room, at most ``MAX_BLOCK_S`` (two seconds); without a background thread it writes the
buffer itself. Rows are dropped, and counted in ``dropped``, only when no room appears in
that time or a write has just failed. Memory therefore stays bounded, and requests keep
being answered, while the stores are down; no row is lost while they work.

>>> import tempfile
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> log = PredictionLog(project, "credit", [{"name": "region", "kind": "category"}]).start()
>>> log.log_predictions(ids=["r1"], version=2, arm="champion", inputs={"region": ["north"]},
...                     scores=[0.83], labels=[1], latency_ms=0.4, flags=["region:ok"])
>>> log.log_feedback(["r1"], [0])
>>> log.close()
>>> log.logged, log.written
(1, 1)
>>> row = labelled_predictions(project, "credit").to_pylist()[0]
>>> row["region"], row["score"], row["label"], row["true_label"]
('north', 0.83, '1', '0')
>>> project.close()
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from time import monotonic
from typing import Any

import numpy as np
import pyarrow as pa

from forgeml.errors import ConfigError
from forgeml.project import Project
from forgeml.registry.refs import check_model_name
from forgeml.serve.feedback import labelled_predictions, log_feedback, read_feedback
from forgeml.serve.logbatch import (
    FeedbackCall,
    PredictionCall,
    check_feedback,
    check_predictions,
    feedback_table,
    predictions_table,
)
from forgeml.serve.logbuffer import Buffer, Call, check_settings, encode_calls, unix_seconds
from forgeml.serve.logreader import read_predictions
from forgeml.serve.logschema import input_columns
from forgeml.serve.logvalues import decode_labels
from forgeml.serve.segments import write_segment, writer_id
from forgeml.store.predictions import SegmentKind

__all__ = [
    "PredictionLog",
    "decode_labels",
    "labelled_predictions",
    "log_feedback",
    "read_feedback",
    "read_predictions",
]

logger = logging.getLogger("forgeml.serve")

MAX_BLOCK_S = 2.0
"""The longest a log call waits for room in a full buffer before it drops its rows."""
_WARN_EVERY_S = 10.0


class PredictionLog:
    """Buffers predictions and feedback of ``model`` and writes them in segments.

    ``inputs`` is the model version's ``signature["inputs"]``: each input column is stored
    with its Arrow type, and a value that does not fit is stored as null. Call
    :meth:`start` to write in the background, and :meth:`close` when done (or use the
    log as a context manager). Without :meth:`start`, rows are written by :meth:`flush`,
    :meth:`close`, or when the buffer is full.
    """

    def __init__(
        self,
        project: Project,
        model: str,
        inputs: list[dict[str, Any]],
        *,
        flush_interval: float = 1.0,
        max_buffer_rows: int = 100_000,
    ) -> None:
        check_model_name(model)
        interval, limit = check_settings(flush_interval, max_buffer_rows)
        self.project = project
        self.model = model
        self.columns = input_columns(inputs)
        _ = project.store, project.artifacts  # opened here, not raced for by two threads
        self.flush_interval = interval
        self.max_buffer_rows = limit
        self.writer = writer_id()
        self.dropped = 0
        """Rows refused because the buffer was full and could not be written."""
        self.errors = 0
        """Writes that failed (their rows stayed buffered and were retried)."""
        self._predictions: Buffer[PredictionCall] = Buffer(limit)
        self._feedback: Buffer[FeedbackCall] = Buffer(limit)
        self._lock = threading.Lock()  # buffers and counters
        self._room = threading.Condition(self._lock)  # notified after every write attempt
        self._write_lock = threading.Lock()  # one write at a time
        self._wake = threading.Event()  # the background thread writes when this is set
        self._stop = threading.Event()
        # After a failed write, callers facing a full buffer drop rows for this long rather
        # than wait for (or retry) a store that is down.
        self._backoff = min(interval, MAX_BLOCK_S)
        self._thread: threading.Thread | None = None
        self._at_exit: Callable[[], None] | None = None
        self._closed = False
        self._failed_at = -math.inf
        self._warned_at = -math.inf

    @property
    def logged(self) -> int:
        """Prediction rows accepted so far."""
        return self._predictions.accepted

    @property
    def written(self) -> int:
        """Prediction rows durably written (stored and indexed) so far."""
        return self._predictions.written

    @property
    def feedback_logged(self) -> int:
        return self._feedback.accepted

    @property
    def feedback_written(self) -> int:
        return self._feedback.written

    @property
    def buffered(self) -> int:
        """Prediction and feedback rows not yet written."""
        return self._predictions.rows + self._feedback.rows

    def start(self) -> PredictionLog:
        """Start writing in the background (a daemon thread); returns the log itself.

        Arrow's conversions are warmed up first (they import pandas, which takes a second
        or two), so that the first write is as quick as the others.
        """
        pa.array([0.5, None])
        with self._lock:
            if self._closed:
                raise ConfigError(
                    f"the prediction log of model '{self.model}' is closed",
                    fix="create a new PredictionLog",
                )
            if self._thread is not None:
                return self
            self._thread = threading.Thread(
                target=self._run, name=f"forgeml-predlog-{self.model}", daemon=True
            )
            self._at_exit = partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._at_exit)
        self._thread.start()
        return self

    def log_predictions(
        self,
        *,
        ids: Sequence[str],
        version: int,
        arm: str,
        inputs: Mapping[str, Sequence[Any]],
        scores: Sequence[float] | np.ndarray,
        labels: Sequence[Any] | None,
        latency_ms: float,
        time: float | None = None,
        flags: Sequence[str] = (),
    ) -> None:
        """Log the rows of one request: columnar ``inputs``, one score (and predicted
        ``labels`` value, for classifiers) per request id.

        ``time`` is unix seconds (default: now); ``latency_ms`` and ``flags`` (validation
        flags such as ``"income:out_of_range"``) apply to every row. The arguments are kept
        by reference until written: do not change them afterwards. Columns of different
        lengths raise :class:`~forgeml.errors.DataError`.
        """
        rows = check_predictions(ids, inputs, scores, labels)
        call = PredictionCall(
            ids, version, arm, inputs, scores, labels, latency_ms, unix_seconds(time), flags, rows
        )
        self._add(self._predictions, call)

    def log_feedback(
        self, ids: Sequence[str], labels: Sequence[Any], *, time: float | None = None
    ) -> None:
        """Log the true label of each request id, known at ``time`` (unix seconds, default
        now). Labels join to predictions logged before or after them."""
        rows = check_feedback(ids, labels)
        self._add(self._feedback, FeedbackCall(ids, labels, unix_seconds(time), rows))

    def flush(self) -> int:
        """Write everything buffered now; returns the rows written (predictions and
        feedback). A failed write raises, and its rows stay buffered."""
        with self._write_lock:
            return self._flush_locked()

    def close(self) -> None:
        """Stop the background thread and write everything buffered (idempotent).

        If the final write fails, the error is raised and the rows stay buffered: calling
        ``close()`` again retries. Rows logged after ``close()`` are written at once.
        """
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            at_exit, self._at_exit = self._at_exit, None
        self._stop.set()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if at_exit is not None:
            atexit.unregister(at_exit)
        self.flush()

    def __enter__(self) -> PredictionLog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"PredictionLog(model={self.model!r}, logged={self.logged}, "
            f"written={self.written}, buffered={self.buffered})"
        )

    # -- internals ----------------------------------------------------------------------

    def _add(self, buffer: Buffer[Call], call: Call) -> None:
        with self._lock:
            if not self._closed and buffer.fits(call.rows):
                buffer.add(call)
                return
        self._add_when_room(buffer, call)

    def _add_when_room(self, buffer: Buffer[Call], call: Call) -> None:
        """The slow path: the buffer is full, or the log is closed.

        With a background thread, the caller wakes it and waits (never writes itself), so
        a request is held up for at most ``MAX_BLOCK_S`` even while a store hangs.
        """
        deadline = monotonic() + MAX_BLOCK_S
        with self._room:
            while self._thread is not None and not buffer.fits(call.rows):
                now = monotonic()
                if now >= deadline or now - self._failed_at < self._backoff:
                    self._drop(call.rows)
                    return
                self._wake.set()
                self._room.wait(deadline - now)
            if self._thread is not None:
                buffer.add(call)
                return
        self._add_in_foreground(buffer, call, deadline)

    def _add_in_foreground(self, buffer: Buffer[Call], call: Call, deadline: float) -> None:
        """No background thread (not started, or closed): make room by writing here."""
        while True:
            with self._lock:
                if buffer.fits(call.rows):
                    buffer.add(call)
                    closed = self._closed
                    break
                now = monotonic()
                if now >= deadline or now - self._failed_at < self._backoff:
                    self._drop(call.rows)
                    return
            self._make_room(buffer, call.rows)
        if closed:
            self._flush_quietly()

    def _make_room(self, buffer: Buffer[Call], rows: int) -> None:
        with self._write_lock:  # first waits for a write in progress
            with self._lock:
                if buffer.fits(rows):
                    return
            try:
                self._flush_locked()
            except Exception:
                logger.exception(_FAILED, self.model)

    def _flush_locked(self) -> int:
        total = 0
        error: Exception | None = None
        writes: tuple[Callable[[], int], ...] = (
            lambda: self._write("predictions", self._predictions, self._predictions_table),
            lambda: self._write("feedback", self._feedback, self._feedback_table),
        )
        for write in writes:  # a failure of one kind does not hold the other back
            try:
                total += write()
            except Exception as e:
                error = error or e
        if error is not None:
            raise error
        return total

    def _write(
        self, kind: SegmentKind, buffer: Buffer[Call], build: Callable[[list[Call]], pa.Table]
    ) -> int:
        with self._lock:
            calls = buffer.take()
        if not calls:
            return 0
        try:
            table, bad = encode_calls(calls, build, self.model)
            written = write_segment(self.project, self.model, kind, table, writer=self.writer)
        except BaseException:
            with self._lock:
                buffer.put_back(calls)
                self.errors += 1
                self._failed_at = monotonic()
                self._room.notify_all()  # waiting callers give up now instead of at the deadline
            raise
        with self._lock:
            buffer.done(calls, written)
            self.dropped += bad
            self._room.notify_all()
        return written

    def _predictions_table(self, calls: list[PredictionCall]) -> pa.Table:
        return predictions_table(calls, self.columns, self.model)

    def _feedback_table(self, calls: list[FeedbackCall]) -> pa.Table:
        return feedback_table(calls, self.model)

    def _run(self) -> None:
        due = monotonic() + self.flush_interval
        while True:
            self._wake.wait(max(0.0, due - monotonic()))  # the interval, or a full buffer
            self._wake.clear()
            if self._stop.is_set():
                return
            now = monotonic()
            if now >= due:
                due = max(due + self.flush_interval, now)
            self._flush_quietly()

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception:
            logger.exception(_FAILED, self.model)

    def _drop(self, rows: int) -> None:
        """Count refused rows (the lock is held), warning now and then."""
        self.dropped += rows
        now = monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            logger.warning(
                "prediction log of model %r: the buffer is full (%d rows) and cannot be "
                "written; %d rows dropped so far",
                self.model,
                self.max_buffer_rows,
                self.dropped,
            )


_FAILED = "prediction log of model %r: a write failed; its rows stay buffered for the next one"


def _close_at_exit(ref: weakref.ref[PredictionLog]) -> None:
    log = ref()
    if log is not None:
        try:
            log.close()
        except Exception:
            logger.exception("prediction log of model %r: the final write failed", log.model)

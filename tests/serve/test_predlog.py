"""The prediction log stores every prediction and label, typed, on both metadata backends."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from forgeml.errors import ConfigError, DataError, IntegrityError, NotFound
from forgeml.project import Project
from forgeml.serve.feedback import label_conflicts
from forgeml.serve.inputs import LoggedInputs
from forgeml.serve.predlog import (
    PredictionLog,
    decode_labels,
    labelled_predictions,
    log_feedback,
    read_feedback,
    read_predictions,
)
from forgeml.store.models import PredictionSegmentRecord

INPUTS: list[dict[str, Any]] = [
    {"name": "income", "type": "double", "kind": "float", "nullable": True, "min": 0, "max": 1e6},
    {"name": "age", "type": "int64", "kind": "integer", "nullable": False, "min": 18, "max": 99},
    {"name": "region", "type": "large_string", "kind": "category", "categories": ["north"]},
    {"name": "applied", "type": "timestamp[us]", "kind": "timestamp"},
    {"name": "opened", "type": "timestamp[us, tz=Europe/Oslo]", "kind": "timestamp"},
    {"name": "member", "type": "bool", "kind": "boolean", "nullable": True},
    {"name": "note", "type": "large_string", "kind": "text", "nullable": True},
]
T0 = 1_750_000_000.0  # a fixed moment, so windows in the tests are exact


def row(
    i: int, *, rows: int = 1, version: int = 1, arm: str = "champion", at: float | None = None
) -> dict[str, Any]:
    """Arguments of one log_predictions call with ids f"r{i}", f"r{i}.1", ..."""
    ids = [f"r{i}" if k == 0 else f"r{i}.{k}" for k in range(rows)]
    return {
        "ids": ids,
        "version": version,
        "arm": arm,
        "inputs": {"income": [1000.0 * i] * rows, "age": [30] * rows, "region": ["north"] * rows},
        "scores": [0.5] * rows,
        "labels": [i % 2] * rows,
        "latency_ms": 1.0,
        "time": T0 + i if at is None else at,
    }


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the prediction log"
        time.sleep(0.01)


def broken_blob_folder(project: Project) -> Path:
    """Make every new artifact write fail (a file where the blob folder belongs)."""
    blocker = Path(project.artifacts.url) / "sha256"
    assert not blocker.exists()
    blocker.write_bytes(b"in the way")
    return blocker


# -- round trip -------------------------------------------------------------------------


def test_inputs_come_back_with_their_types_and_values(project: Project) -> None:
    log = PredictionLog(project, "credit", INPUTS)
    log.log_predictions(
        ids=["a", "b"],
        version=3,
        arm="champion",
        inputs={
            "income": [52000.5, None],
            "age": [41, 30],
            "region": ["north", "søråsen 東京"],
            "applied": [datetime(2024, 5, 1, 9, 30), "2024-05-02T10:00:00"],
            "opened": ["2024-05-01T12:00:00+02:00", datetime(2024, 1, 1, 12, 0)],
            "member": [True, None],
            "note": ["ünïcode ✓", None],
        },
        scores=[0.91, 0.12],
        labels=["late", "on time"],
        latency_ms=2.5,
        time=T0,
        flags=["income:out_of_range"],
    )
    log.log_predictions(  # NumPy columns; a column the signature lacks is ignored
        ids=np.array(["c"]),
        version=3,
        arm="canary",
        inputs={
            "income": np.array([float("nan")]),
            "age": np.array([7], dtype=np.int32),
            "region": np.array(["north"]),
            "applied": np.array(["2024-05-03T00:00"], dtype="datetime64[ns]"),
            "member": np.array([False]),
            "extra": [1],
        },
        scores=np.array([0.5], dtype=np.float32),
        labels=None,
        latency_ms=0.25,
        time=T0 + 1,
    )
    log.close()
    assert (log.logged, log.written, log.dropped, log.errors) == (3, 3, 0, 0)

    table = read_predictions(project, "credit")
    types = {name: str(table.schema.field(name).type) for name in table.column_names}
    assert types == {
        "request_id": "string",
        "time": "timestamp[us, tz=UTC]",
        "version": "int32",
        "arm": "string",
        "latency_ms": "float",
        "score": "double",
        "label": "string",
        "flags": "list<element: string>",
        "income": "double",
        "age": "int64",
        "region": "large_string",
        "applied": "timestamp[us]",
        "opened": "timestamp[us, tz=Europe/Oslo]",
        "member": "bool",
        "note": "large_string",
    }
    rows = table.to_pylist()
    oslo = ZoneInfo("Europe/Oslo")
    assert rows[0] == {
        "request_id": "a",
        "time": datetime.fromtimestamp(T0, UTC),
        "version": 3,
        "arm": "champion",
        "latency_ms": 2.5,
        "score": 0.91,
        "label": '"late"',
        "flags": ["income:out_of_range"],
        "income": 52000.5,
        "age": 41,
        "region": "north",
        "applied": datetime(2024, 5, 1, 9, 30),
        "opened": datetime(2024, 5, 1, 12, 0, tzinfo=oslo),
        "member": True,
        "note": "ünïcode ✓",
    }
    assert rows[1]["region"] == "søråsen 東京"
    assert rows[1]["applied"] == datetime(2024, 5, 2, 10, 0)
    assert rows[1]["opened"] == datetime(2024, 1, 1, 12, 0, tzinfo=oslo)  # wall clock in Oslo
    assert [rows[1][k] for k in ("income", "member", "note")] == [None, None, None]
    assert rows[1]["flags"] == ["income:out_of_range"]  # flags apply to the whole request
    assert rows[2]["income"] is None  # NaN is a missing value, as in datasets
    assert (rows[2]["age"], rows[2]["applied"], rows[2]["member"]) == (
        7,
        datetime(2024, 5, 3),
        False,
    )
    assert (rows[2]["opened"], rows[2]["label"], rows[2]["flags"]) == (None, None, [])
    assert decode_labels(table.column("label")) == ["late", "on time", None]


def test_checked_number_blocks_and_plain_columns_mix_in_one_write(
    sqlite_project: Project,
) -> None:
    """The server logs float64 blocks; a batch may also hold another schema's or plain lists."""
    log = PredictionLog(sqlite_project, "credit", INPUTS)
    positions = {"income": 0, "age": 1}  # one schema's layout, shared by its requests
    moved = {"age": 0, "income": 1}  # a new version's layout
    others = {"region": ["north"]}
    calls = [
        LoggedInputs(np.array([[1.5, 30.0]]), positions, others),
        LoggedInputs(np.array([[np.nan, 31.0], [2.5, 32.0]]), positions, {"region": ["north"] * 2}),
        LoggedInputs(np.array([[33.0, 3.5]]), moved, others),
        {"income": [4.5], "age": [34], "region": ["north"]},
        LoggedInputs(np.array([[5.5, 35.5]]), positions, others),  # a fraction of an integer
    ]
    for i, inputs in enumerate(calls):
        rows = 2 if i == 1 else 1
        log.log_predictions(
            ids=[f"r{i}.{k}" for k in range(rows)],
            version=1,
            arm="champion",
            inputs=inputs,
            scores=[0.5] * rows,
            labels=[1] * rows,
            latency_ms=1.0,
            time=T0,
        )
    log.flush()
    shared = PredictionLog(sqlite_project, "credit", INPUTS)
    for i in range(3):  # every call in the batch shares one layout
        block = np.array([[10.0 + i, 40.0 + i]])
        shared.log_predictions(
            ids=[f"s{i}"],
            version=1,
            arm="champion",
            inputs=LoggedInputs(block, positions, others),
            scores=[0.1],
            labels=[0],
            latency_ms=1.0,
            time=T0,
        )
    shared.close()
    log.close()
    table = read_predictions(sqlite_project, "credit")
    got = dict(
        zip(
            table.column("request_id").to_pylist(),
            zip(table.column("income").to_pylist(), table.column("age").to_pylist(), strict=True),
            strict=True,
        )
    )
    assert got == {
        "r0.0": (1.5, 30),
        "r1.0": (None, 31),
        "r1.1": (2.5, 32),
        "r2.0": (3.5, 33),
        "r3.0": (4.5, 34),
        "r4.0": (5.5, None),  # 35.5 is not an integer: stored as null, the row is kept
        "s0": (10.0, 40),
        "s1": (11.0, 41),
        "s2": (12.0, 42),
    }
    assert table.schema.field("age").type == pa.int64()


def test_reads_select_by_time_window_version_and_arm(project: Project) -> None:
    with PredictionLog(project, "credit", INPUTS) as log:
        for i in range(10):
            log.log_predictions(**row(i, version=1 + i % 2, arm="canary" if i >= 8 else "champion"))
        log.log_predictions(**row(10, rows=3))  # a multi-row request

    def ids(**query: Any) -> list[str]:
        return read_predictions(project, "credit", **query).column("request_id").to_pylist()

    assert len(ids()) == 13
    assert ids(start=T0 + 2, end=T0 + 5) == ["r2", "r3", "r4"]  # [start, end)
    assert ids(start=datetime.fromtimestamp(T0 + 9, UTC)) == ["r9", "r10", "r10.1", "r10.2"]
    assert ids(end=datetime.fromtimestamp(T0 + 1, UTC).replace(tzinfo=None)) == ["r0"]  # naive: UTC
    assert ids(version=2) == ["r1", "r3", "r5", "r7", "r9"]
    assert ids(arm="canary") == ["r8", "r9"]
    assert ids(arm="canary", version=2) == ["r9"]
    assert ids(arm="shadow") == []
    assert ids(start=T0 + 100) == []
    narrow = read_predictions(project, "credit", columns=["request_id", "income"], version=2)
    assert narrow.column_names == ["request_id", "income"]
    assert narrow.column("income").to_pylist() == [1000.0, 3000.0, 5000.0, 7000.0, 9000.0]
    with pytest.raises(NotFound, match="no column 'incme'"):
        read_predictions(project, "credit", columns=["incme"])
    with pytest.raises(ConfigError, match="not a point in time"):
        read_predictions(project, "credit", start="yesterday")  # type: ignore[arg-type]


def test_an_empty_log_reads_as_an_empty_table(sqlite_project: Project) -> None:
    table = read_predictions(sqlite_project, "never-served")
    assert table.num_rows == 0
    assert table.column_names[:3] == ["request_id", "time", "version"]
    assert labelled_predictions(sqlite_project, "never-served").num_rows == 0
    assert read_feedback(sqlite_project, "never-served").num_rows == 0


def test_segments_of_different_signatures_read_together(sqlite_project: Project) -> None:
    with PredictionLog(sqlite_project, "credit", INPUTS[:1]) as old:
        old.log_predictions(**row(0))
    newer = [{"name": "income", "type": "int64", "kind": "integer"}, INPUTS[1]]
    with PredictionLog(sqlite_project, "credit", newer) as new:
        new.log_predictions(**row(1, version=2))
    table = read_predictions(sqlite_project, "credit")
    assert table.schema.field("income").type == pa.float64()  # int64 widened to double
    assert table.column("income").to_pylist() == [0.0, 1000.0]
    assert table.column("age").to_pylist() == [None, 30]


def test_an_input_named_like_a_log_column_is_stored_under_a_prefix(
    sqlite_project: Project,
) -> None:
    inputs = [{"name": "score", "type": "double", "kind": "float"}]
    with PredictionLog(sqlite_project, "bureau", inputs) as log:
        log.log_predictions(
            ids=["a"],
            version=1,
            arm="champion",
            inputs={"score": [712.0]},
            scores=[0.3],
            labels=None,
            latency_ms=1.0,
        )
    table = read_predictions(sqlite_project, "bureau")
    assert table.column("score").to_pylist() == [0.3]
    assert table.column("input.score").to_pylist() == [712.0]
    assert table.schema.field("input.score").metadata == {b"forgeml.input": b"score"}


def test_segments_can_live_in_an_object_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.setenv("FORGEML_ARTIFACTS_URL", f"memory://predlog-{uuid.uuid4().hex}")
    with Project.init(tmp_path / "remote", name="remote") as project:
        with PredictionLog(project, "credit", INPUTS) as log:
            log.log_predictions(**row(0, rows=2))
            log.log_feedback(["r0"], [1])
        assert type(project.artifacts).__name__ == "FsspecArtifactStore"
        joined = labelled_predictions(project, "credit")
        assert joined.column("request_id").to_pylist() == ["r0"]
        assert read_predictions(project, "credit").num_rows == 2


# -- bad input --------------------------------------------------------------------------


def test_values_that_do_not_fit_are_stored_as_null_without_failing(project: Project) -> None:
    log = PredictionLog(project, "credit", INPUTS)
    log.log_predictions(
        ids=["a", "b", "c", "d"],
        version=1,
        arm="champion",
        inputs={
            "income": ["lots", True, float("inf"), 5],
            "age": [3.5, 2**70, "41", 40.0],
            "region": [17, None, b"north", "north"],
            "applied": ["not a date", 12, "2024-13-45", datetime(2024, 1, 1, tzinfo=UTC)],
            "opened": [object(), None, "2024-05-01", "2024-05-01T00:00:00Z"],
            "member": ["yes", 1, np.bool_(True), None],
            "note": [["a", "list"], {"a": 1}, 3.5, "fine"],
        },
        scores=[float("nan"), float("inf"), -float("inf"), 0.5],
        labels=[np.int64(1), 1.0, float("nan"), {"nested": [1]}],
        latency_ms=float("nan"),
        time=T0,
        flags=[1, "x"],  # type: ignore[list-item]
    )
    log.log_predictions(**row(1, version=2**40))  # a version that does not fit int32
    log.close()
    assert (log.written, log.errors, log.dropped) == (5, 0, 0)
    table = read_predictions(project, "credit").slice(0, 4)
    oslo = ZoneInfo("Europe/Oslo")
    assert table.column("income").to_pylist() == [None, None, float("inf"), 5.0]
    assert table.column("age").to_pylist() == [None, None, None, 40]
    assert table.column("region").to_pylist() == [None, None, None, "north"]
    assert table.column("applied").to_pylist() == [None, None, None, datetime(2024, 1, 1)]
    assert table.column("opened").to_pylist() == [
        None,
        None,
        datetime(2024, 5, 1, tzinfo=oslo),
        datetime(2024, 5, 1, 2, tzinfo=oslo),
    ]
    assert table.column("member").to_pylist() == [None, None, True, None]
    assert table.column("note").to_pylist() == [None, None, None, "fine"]
    assert table.column("score").to_pylist() == [None, None, None, 0.5]
    assert table.column("label").to_pylist() == ["1", "1", None, '{"nested":[1]}']
    assert table.column("latency_ms").to_pylist() == [None] * 4
    assert table.column("flags").to_pylist() == [["1", "x"]] * 4
    assert read_predictions(project, "credit").column("version").to_pylist()[4] is None


def test_calls_with_mismatched_columns_are_refused_at_once(sqlite_project: Project) -> None:
    log = PredictionLog(sqlite_project, "credit", INPUTS)
    good = row(0, rows=2)
    with pytest.raises(DataError, match="scores has 1 values for 2 request ids"):
        log.log_predictions(**{**good, "scores": [0.5]})
    with pytest.raises(DataError, match=r"inputs\['age'\] has 3 values"):
        log.log_predictions(**{**good, "inputs": {"age": [1, 2, 3]}})
    with pytest.raises(DataError, match="not a string"):
        log.log_predictions(**{**good, "ids": "r0"})
    with pytest.raises(DataError, match="labels has 1 values"):
        log.log_feedback(["a", "b"], [1])
    assert log.logged == 0
    log.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "bad name!"}, "not a valid model name"),
        ({"flush_interval": 0}, "flush_interval=0"),
        ({"flush_interval": float("inf")}, "flush_interval=inf"),
        ({"max_buffer_rows": 0}, "max_buffer_rows=0"),
        ({"inputs": [{"name": "a"}, {"name": "a"}]}, "appears twice"),
        ({"inputs": [{"kind": "float"}]}, "has no name"),
        ({"inputs": [{"name": "t", "type": "timestamp[us, tz=Mars/Base]"}]}, "Mars/Base"),
    ],
)
def test_invalid_settings_are_refused(
    sqlite_project: Project, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"model": "credit", "inputs": INPUTS, **kwargs}
    with pytest.raises(ConfigError, match=message):
        PredictionLog(sqlite_project, arguments.pop("model"), arguments.pop("inputs"), **arguments)


# -- concurrency, shutdown, failures --------------------------------------------------


def test_concurrent_loggers_lose_and_duplicate_nothing(project: Project) -> None:
    threads, calls = 4, 150
    log = PredictionLog(project, "credit", INPUTS, flush_interval=0.05, max_buffer_rows=40)
    log.start()

    def serve(worker: int) -> None:
        for i in range(calls):
            rows = 1 + i % 3
            call = row(worker * 1000 + i, rows=rows)
            call["ids"] = [f"w{worker}-{i}-{k}" for k in range(rows)]
            log.log_predictions(**call)

    workers = [threading.Thread(target=serve, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    log.close()
    expected = {
        f"w{w}-{i}-{k}" for w in range(threads) for i in range(calls) for k in range(1 + i % 3)
    }
    ids = read_predictions(project, "credit", columns=["request_id"]).column("request_id")
    assert log.dropped == 0
    assert log.logged == log.written == len(expected) == len(ids)
    assert set(ids.to_pylist()) == expected
    with project.store.read() as session:
        assert session.query(PredictionSegmentRecord).count() > 1  # written in several batches


def test_close_writes_everything_and_later_calls_are_written_at_once(
    sqlite_project: Project,
) -> None:
    log = PredictionLog(sqlite_project, "credit", INPUTS, flush_interval=3600).start()
    for i in range(50):
        log.log_predictions(**row(i))
    log.log_feedback(["r1"], [0])
    assert (log.logged, log.written, log.buffered) == (50, 0, 51)
    log.close()
    assert (log.written, log.feedback_written, log.buffered) == (50, 1, 0)
    log.close()  # idempotent
    log.log_predictions(**row(50))  # a request still in flight at shutdown
    assert log.written == 51
    assert read_predictions(sqlite_project, "credit").num_rows == 51
    with pytest.raises(ConfigError, match="is closed"):
        log.start()


def test_a_failed_write_is_logged_kept_and_retried(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = broken_blob_folder(project)
    log = PredictionLog(project, "credit", INPUTS, flush_interval=0.05).start()
    with caplog.at_level(logging.ERROR, logger="forgeml.serve"):
        log.log_predictions(**row(0, rows=2))
        wait_until(lambda: log.errors >= 2)  # retried at the next interval, failing again
    assert log.written == 0
    assert "a write failed" in caplog.text and "ArtifactError" in caplog.text
    blocker.unlink()
    wait_until(lambda: log.written == 2)
    log.log_predictions(**row(1))
    log.close()
    assert read_predictions(project, "credit").column("request_id").to_pylist() == [
        "r0",
        "r0.1",
        "r1",
    ]


@pytest.mark.parametrize("background", [True, False])
def test_a_full_buffer_with_a_failing_store_drops_instead_of_blocking(
    sqlite_project: Project, caplog: pytest.LogCaptureFixture, background: bool
) -> None:
    blocker = broken_blob_folder(sqlite_project)
    log = PredictionLog(sqlite_project, "credit", INPUTS, flush_interval=60, max_buffer_rows=10)
    if background:
        log.start()
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="forgeml.serve"):
        for i in range(30):
            log.log_predictions(**row(i))
    assert time.monotonic() - began < 2  # no call waits out its full MAX_BLOCK_S
    assert log.logged == 10 and log.dropped == 20 and log.buffered == 10
    assert log.errors == 1 and "buffer is full" in caplog.text
    blocker.unlink()
    log.close()
    assert read_predictions(sqlite_project, "credit").num_rows == 10


def test_a_full_buffer_with_a_working_store_writes_instead_of_dropping(
    sqlite_project: Project,
) -> None:
    log = PredictionLog(sqlite_project, "credit", INPUTS, flush_interval=60, max_buffer_rows=10)
    for i in range(35):
        log.log_predictions(**row(i))
    assert (log.written, log.dropped, log.buffered) == (30, 0, 5)
    log.close()
    assert read_predictions(sqlite_project, "credit").num_rows == 35


def test_reads_verify_segments(sqlite_project: Project) -> None:
    with PredictionLog(sqlite_project, "credit", INPUTS) as log:
        log.log_predictions(**row(0))
    with sqlite_project.store.read() as session:
        (segment,) = session.query(PredictionSegmentRecord).all()
    assert (segment.model, segment.kind, segment.rows) == ("credit", "predictions", 1)
    assert segment.first_time == segment.last_time == datetime.fromtimestamp(T0, UTC)
    path = Path(sqlite_project.artifacts.url) / "sha256" / segment.artifact_sha256[:2]
    blob = path / segment.artifact_sha256
    assert pq.read_table(blob).num_rows == 1
    blob.write_bytes(blob.read_bytes()[:-1] + b"\0")
    with pytest.raises(IntegrityError):
        read_predictions(sqlite_project, "credit")


# -- feedback -------------------------------------------------------------------------


def test_feedback_joins_late_early_out_of_order_and_idempotently(project: Project) -> None:
    day = 86_400.0
    log_feedback(project, "credit", ["r3"], [1], time=T0 - day)  # before the prediction
    log = PredictionLog(project, "credit", INPUTS)
    log.log_predictions(**row(1))
    log.log_predictions(**row(2))
    log.log_predictions(**row(3))
    log.log_predictions(**row(4))
    log.log_feedback(["r2"], [0], time=T0 + 5)  # buffered with the predictions
    log.close()
    log_feedback(project, "credit", ["r1", "r9"], [1, 1], time=T0 + 3 * day)  # days later
    log_feedback(project, "credit", ["r1"], [1], time=T0 + 4 * day)  # the same label again
    log_feedback(project, "credit", ["r4"], ["late"], time=T0 + 9 * day)  # the first given wins,
    log_feedback(project, "credit", ["r4"], ["early"], time=T0 + 8 * day)  # not the first sent

    feedback = read_feedback(project, "credit")
    assert feedback.column_names == ["request_id", "label", "time"]
    assert sorted(feedback.column("request_id").to_pylist()) == ["r1", "r2", "r3", "r4", "r9"]
    by_id = {r["request_id"]: r for r in feedback.to_pylist()}
    assert by_id["r4"]["label"] == '"early"'
    assert by_id["r1"]["time"] == datetime.fromtimestamp(T0 + 3 * day, UTC)
    assert label_conflicts(project, "credit") == 1  # r4; r1's repeat agrees
    window = read_feedback(project, "credit", start=T0, end=T0 + 8.5 * day)
    assert {r["request_id"]: r["label"] for r in window.to_pylist()} == {
        "r2": "0",
        "r1": "1",
        "r9": "1",
        "r4": '"early"',
    }

    joined = labelled_predictions(project, "credit")
    assert joined.column_names[-2:] == ["true_label", "label_time"]
    pairs = dict(
        zip(
            joined.column("request_id").to_pylist(),
            joined.column("true_label").to_pylist(),
            strict=True,
        )
    )
    assert pairs == {"r1": "1", "r2": "0", "r3": "1", "r4": '"early"'}  # r9 has no prediction
    assert decode_labels(joined.column("true_label")) == [1, 0, 1, "early"]
    assert labelled_predictions(project, "credit", start=T0 + 2, end=T0 + 4).num_rows == 2


def test_equal_times_resolve_to_the_label_written_first(sqlite_project: Project) -> None:
    log_feedback(sqlite_project, "credit", ["a"], [0], time=T0)
    log_feedback(sqlite_project, "credit", ["a", "a"], [1, 2], time=T0)
    assert read_feedback(sqlite_project, "credit").column("label").to_pylist() == ["0"]
    every = read_feedback(sqlite_project, "credit", every=True)
    assert every.column("label").to_pylist() == ["0", "1", "2"]
    assert label_conflicts(sqlite_project, "credit") == 2


def test_feedback_labels_every_arm_of_a_request(sqlite_project: Project) -> None:
    with PredictionLog(sqlite_project, "credit", INPUTS) as log:
        log.log_predictions(**row(1, version=4))
        log.log_predictions(**row(1, version=5, arm="shadow"))
        log.log_predictions(**row(2, version=4))
        log.log_feedback(["r1"], [True])
    joined = labelled_predictions(sqlite_project, "credit")
    assert joined.select(["request_id", "arm", "version", "true_label"]).to_pylist() == [
        {"request_id": "r1", "arm": "champion", "version": 4, "true_label": "true"},
        {"request_id": "r1", "arm": "shadow", "version": 5, "true_label": "true"},
    ]
    assert labelled_predictions(sqlite_project, "credit", arm="shadow").num_rows == 1


def test_feedback_checks_its_arguments(sqlite_project: Project) -> None:
    with pytest.raises(DataError, match="labels has 2 values for 1 request ids"):
        log_feedback(sqlite_project, "credit", ["a"], [1, 2])
    with pytest.raises(ConfigError, match="not a valid model name"):
        log_feedback(sqlite_project, "", ["a"], [1])
    assert log_feedback(sqlite_project, "credit", [], []) == 0
    when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=1)
    assert log_feedback(sqlite_project, "credit", ["a"], [1], time=when) == 1
    assert read_feedback(sqlite_project, "credit").column("time").to_pylist() == [when]

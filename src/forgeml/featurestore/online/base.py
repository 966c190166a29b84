"""What every online store does: keep the latest feature values per view and entity key.

A record is one view's values for one entity: ``{"ts": event time in µs, "v": {name: value}}``,
stored under the view's name and the entity's encoded key. Reading many records is one round
trip; watermarks say how far materialization got.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

__all__ = ["OnlineStore", "Record", "decode", "encode", "encode_key"]

Record = dict[str, Any]


def encode_key(values: Iterable[Any]) -> str:
    """The entity's join key values as one string: ``[42]`` or ``["a",7]``.

    >>> encode_key([42]), encode_key(["a", 7.0])
    ('[42]', '["a",7]')
    """
    normal = [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]
    return orjson.dumps(normal, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def encode(record: Record) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC)


def decode(data: bytes | str | None) -> Record | None:
    if data is None:
        return None
    found: Record = orjson.loads(data)
    return found


class OnlineStore(ABC):
    """Latest values per (view, entity key), and each view's materialization watermark."""

    url: str = ""

    @abstractmethod
    def write(self, view: str, rows: Sequence[tuple[str, int, bytes]]) -> None:
        """Store ``(entity key, event time µs, encoded record)`` rows; a newer time wins."""

    @abstractmethod
    def read(self, refs: Sequence[tuple[str, str]]) -> list[Record | None]:
        """The records of ``(view, entity key)`` pairs, in one round trip; None where absent."""

    @abstractmethod
    def watermark(self, view: str) -> Record | None:
        """What the last materialization of ``view`` covered, or None."""

    @abstractmethod
    def set_watermark(self, view: str, mark: Record) -> None:
        """Record how far materialization of ``view`` got (after its rows are written)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

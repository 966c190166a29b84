"""The as-of match: for each entity row, the latest source row of its entity at its time.

Vectorised with Arrow and NumPy, no Python per row. The entity rows are prepared once for
all views: their keys encoded as dense codes, their times in microseconds, and the order
that sorts them by (key, time). For each view, the source's keys are looked up among the
entity rows' keys (rows of other entities can never match and are dropped), each side gets
one sortable int64 per row, key code then time, and the source is sorted by it and then by
created time and position, so that among rows with one key and time the winner comes last
(latest created time, nulls lowest, then the later row). After de-duplication to those
winners, each entity row finds its match with one binary search.

>>> import pyarrow as pa
>>> entity = pa.table({"k": [1, 1, 2, None], "__ts": pa.array([5, 9, 5, 5], pa.timestamp("us"))})
>>> source = pa.table({
...     "k": [1, 1, 1, 2, 3],
...     "__ts": pa.array([4, 4, 8, 6, 1], pa.timestamp("us")),
...     "__created": pa.array([2, 1, None, None, None], pa.timestamp("us")),
...     "__pos": [0, 1, 2, 3, 4],
... })
>>> rows = EntityRows(entity, ["k"])
>>> rows.latest(source, ttl_us=None).to_pylist()
[0, 2, None, None]
>>> rows.latest(source, ttl_us=1).to_pylist()  # row 1: 9 - 8 <= 1
[0, 2, None, None]
>>> rows.latest(source, ttl_us=0).to_pylist()
[None, None, None, None]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from forgeml.errors import DataError
from forgeml.featurestore.sources import POSITION

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = ["CREATED", "TS", "EntityRows"]

TS = "__ts"
CREATED = "__created"
_LIMIT = 2**62


class EntityRows:
    """Entity rows (key columns and ``__ts``) prepared for as-of matches on ``keys``."""

    def __init__(self, table: pa.Table, keys: Sequence[str]) -> None:
        import numpy as np
        import pyarrow as pa

        self.rows = table.num_rows
        self.keys = list(keys)
        self.dictionaries: list[pa.Array] = []
        self.pairs: list[np.ndarray] = []  # for several keys: the key combinations seen
        code = np.empty(0, dtype=np.int64)
        for i, key in enumerate(self.keys):
            column = table.column(key)
            try:
                encoded = column.combine_chunks().dictionary_encode()
            except pa.ArrowNotImplementedError:
                raise DataError(
                    f"the entity rows' {key!r} holds {column.type} values, which cannot be keys",
                    fix=f"give {key!r} plain values: numbers or text",
                ) from None
            self.dictionaries.append(encoded.dictionary)
            part = _filled(encoded.indices)
            if i == 0:
                code = part
                continue
            pairs = _pairs(code, part, len(encoded.dictionary))
            seen, dense = np.unique(pairs, return_inverse=True)
            code = np.where(pairs >= 0, dense.astype(np.int64) - int(seen[0] < 0), -1)
            self.pairs.append(seen[seen >= 0])
        self.code = code
        self.ts, present = _micros(table.column(TS))
        self.wanted = (self.code >= 0) & present
        if self.wanted.any():
            self.low, self.high = int(self.ts[self.wanted].min()), int(self.ts[self.wanted].max())
        self.codes = int(self.code.max()) + 1
        self.order = np.lexsort((self.ts, self.code))  # by key, then time

    def latest(self, source: pa.Table, ttl_us: int | None) -> pa.Array:
        """The index into ``source`` of each entity row's match, null where there is none.

        ``source`` has the key columns, ``__ts``, ``__created`` and ``__pos``. A match has
        the same key, ``__ts`` at most the entity row's, and at least the entity row's
        minus ``ttl_us`` when given.
        """
        import numpy as np
        import pyarrow as pa

        code = self._source_codes(source)
        usable = np.flatnonzero(code >= 0)
        if not len(usable) or not self.wanted.any():
            return pa.nulls(self.rows, pa.int64())
        source_ts, _ = _micros(source.column(TS))  # null times are dropped before
        times = source_ts[usable]
        low, high = min(self.low, int(times.min())), max(self.high, int(times.max()))
        span = high - low + 1
        if self.codes * span < _LIMIT:
            entity_key = self.code * span + (np.where(self.wanted, self.ts, low) - low)
            source_key = code[usable] * span + (times - low)
        else:  # a long time range and many keys: times replaced by their rank
            stamps = np.concatenate([np.where(self.wanted, self.ts, low), times])
            ranks = np.unique(stamps, return_inverse=True)[1].astype(np.int64)
            width = int(ranks.max()) + 1
            entity_key = self.code * width + ranks[: self.rows]
            source_key = code[usable] * width + ranks[self.rows :]
        order = _winners_last(source, usable, source_key)
        ordered = source_key[order]
        last = np.ones(len(ordered), dtype=bool)
        last[:-1] = ordered[1:] != ordered[:-1]
        winners, winner_keys = usable[order[last]], ordered[last]
        found = np.empty(self.rows, dtype=np.int64)  # searched in sorted order: cache-friendly
        found[self.order] = np.searchsorted(winner_keys, entity_key[self.order], side="right")
        found -= 1
        match = winners[np.maximum(found, 0)]
        ok = self.wanted & (found >= 0) & (code[match] == self.code)
        if ttl_us is not None:
            ok &= source_ts[match] >= self.ts - ttl_us
        return pa.array(match, mask=~ok)

    def _source_codes(self, source: pa.Table) -> np.ndarray:
        """The entity rows' code of each source row's key; -1 for keys no entity row has."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        code = np.empty(0, dtype=np.int64)
        for i, (key, dictionary) in enumerate(zip(self.keys, self.dictionaries, strict=True)):
            values = source.column(key).combine_chunks()
            if values.type != dictionary.type:
                try:
                    values = values.cast(dictionary.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise DataError(
                        f"the entity rows' {key!r} is {dictionary.type} but the source's is "
                        f"{values.type}",
                        fix=f"give {key!r} the source's type in the entity rows",
                    ) from None
            part = _filled(pc.index_in(values, value_set=dictionary))
            if i == 0:
                code = part
                continue
            seen = self.pairs[i - 1]
            pairs = _pairs(code, part, len(dictionary))
            at = np.minimum(np.searchsorted(seen, pairs), len(seen) - 1)
            code = np.where((pairs >= 0) & (seen[at] == pairs), at, -1)
        return code


def _filled(indices: Any) -> np.ndarray:
    import numpy as np

    return np.asarray(indices.fill_null(-1).to_numpy(), dtype=np.int64)


def _winners_last(source: pa.Table, usable: np.ndarray, key: np.ndarray) -> np.ndarray:
    """The order that sorts ``key``, with rows of equal keys by created time and position
    (one fast sort; only the few rows that share a key are sorted again)."""
    import numpy as np

    order = np.argsort(key)
    ordered = key[order]
    same = ordered[1:] == ordered[:-1]
    if same.any():
        tied = np.zeros(len(order), dtype=bool)
        tied[:-1] |= same
        tied[1:] |= same
        rows = order[tied]
        created, _ = _micros(source.column(CREATED), missing=np.iinfo(np.int64).min)
        position = np.asarray(source.column(POSITION).to_numpy(), dtype=np.int64)
        picked = usable[rows]
        order[tied] = rows[np.lexsort((position[picked], created[picked], key[rows]))]
    return order


def _pairs(combined: np.ndarray, part: np.ndarray, size: int) -> np.ndarray:
    """Two codes as one (-1 where either is -1); dense codes keep it far from overflowing."""
    import numpy as np

    return np.where((combined >= 0) & (part >= 0), combined * size + part, -1)


def _micros(column: Any, missing: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps as int64 microseconds (``missing`` where null), and where they are set."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = column.cast(pa.timestamp("us"), safe=False).cast(pa.int64())
    present = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
    filled = np.asarray(values.fill_null(missing).to_numpy(), dtype=np.int64)
    return filled, present

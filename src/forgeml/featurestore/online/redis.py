"""The Redis online store: one key per (view, entity), one MGET per lookup.

Keys are ``{prefix}:{view}:{entity}``; the prefix (``?prefix=`` in the URL, default
``forgeml``) keeps projects (and tests) apart on one server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from forgeml.errors import ConfigError, MissingDependency
from forgeml.featurestore.online.base import OnlineStore, Record, decode, encode

__all__ = ["RedisOnlineStore"]


class RedisOnlineStore(OnlineStore):
    """Records as Redis strings; writes pipelined, reads one MGET."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as e:
            raise MissingDependency("redis", "redis", "the Redis online store") from e
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.prefix = (query.pop("prefix", ["forgeml"]) or ["forgeml"])[0]
        if not self.prefix or any(c in self.prefix for c in " \n\r"):
            raise ConfigError(f"invalid Redis key prefix {self.prefix!r}", fix="use a plain word")
        plain = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        self.url = plain  # never logged with a password: see __repr__
        self._client: Any = redis.Redis.from_url(plain)

    def __repr__(self) -> str:
        parts = urlsplit(self.url)
        return f"RedisOnlineStore({parts.hostname}:{parts.port}, prefix={self.prefix!r})"

    def _key(self, view: str, entity: str) -> str:
        return f"{self.prefix}:{view}:{entity}"

    def write(self, view: str, rows: Sequence[tuple[str, int, bytes]]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key, _ts, record in rows:  # materialization writes in time order: the last wins
            pipe.set(self._key(view, key), record)
        pipe.execute()

    def read(self, refs: Sequence[tuple[str, str]]) -> list[Record | None]:
        if not refs:
            return []
        values = self._client.mget([self._key(view, key) for view, key in refs])
        return [decode(v) for v in values]

    def watermark(self, view: str) -> Record | None:
        return decode(self._client.get(f"{self.prefix}:__watermark__:{view}"))

    def set_watermark(self, view: str, mark: Record) -> None:
        self._client.set(f"{self.prefix}:__watermark__:{view}", encode(mark))

    def clear(self) -> int:
        """Delete every key under this store's prefix; returns how many."""
        removed = 0
        for batch in _chunks(self._client.scan_iter(match=f"{self.prefix}:*", count=1000)):
            removed += int(self._client.delete(*batch))
        return removed

    def close(self) -> None:
        self._client.close()


def _chunks(keys: Any, size: int = 1000) -> Any:
    batch = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

"""Online stores: SQLite (embedded default) and Redis (``FORGEML_ONLINE_URL=redis://...``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from forgeml.errors import ConfigError
from forgeml.featurestore.online.base import OnlineStore, encode_key

if TYPE_CHECKING:
    from forgeml.project import Project

__all__ = ["ENV_ONLINE_URL", "OnlineStore", "encode_key", "online_url", "open_online_store"]

ENV_ONLINE_URL = "FORGEML_ONLINE_URL"


def online_url(project: Project | None = None) -> str:
    """``$FORGEML_ONLINE_URL``, else the project's ``.forgeml/online.db``."""
    url = os.environ.get(ENV_ONLINE_URL)
    if url:
        return url
    if project is None:
        raise ConfigError(
            "no online store is configured", fix=f"set {ENV_ONLINE_URL} or run inside a project"
        )
    return f"sqlite:///{project.state_dir / 'online.db'}"


def open_online_store(url: str) -> OnlineStore:
    """The store at ``url``: ``sqlite:///path.db`` or ``redis://host:port/db[?prefix=name]``."""
    if url.startswith("sqlite:///"):
        from forgeml.featurestore.online.sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(Path(url[len("sqlite:///") :]))
    if url.startswith(("redis://", "rediss://", "unix://")):
        from forgeml.featurestore.online.redis import RedisOnlineStore

        return RedisOnlineStore(url)
    raise ConfigError(
        f"unsupported online store URL {url.split('://')[0]}://...",
        fix="use sqlite:///path/online.db or redis://host:6379/0",
    )

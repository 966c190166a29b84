"""Content-addressed artifact storage: models, datasets and logs, stored by their sha256.

Pick a backend from a URL with :func:`open_artifact_store`: a plain path or ``file://``
URL gives a :class:`LocalArtifactStore`; ``s3://``, ``gs://``, ``az://``, ``memory://``
and other fsspec URLs give an :class:`FsspecArtifactStore`.

>>> store = open_artifact_store("memory://docs-artifacts")
>>> digest = store.put_bytes(b"hello")
>>> digest[:16], store.get_bytes(digest)
('2cf24dba5fb0a30e', b'hello')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forgeml.errors import ConfigError

from .base import ArtifactStore
from .keys import safe_key
from .local import LocalArtifactStore
from .urls import check_url_path, local_path_from_url

if TYPE_CHECKING:  # fsspec is imported only when a remote store is opened
    from .remote import FsspecArtifactStore

__all__ = [
    "ArtifactStore",
    "FsspecArtifactStore",
    "LocalArtifactStore",
    "open_artifact_store",
    "safe_key",
]


def open_artifact_store(
    url: str | os.PathLike[str],
    *,
    cache_dir: Path | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ArtifactStore:
    """Open the artifact store at ``url``.

    A plain path or ``file://`` URL opens a :class:`LocalArtifactStore` (``cache_dir`` is
    not needed there and is ignored); any other URL opens an :class:`FsspecArtifactStore`
    with ``cache_dir`` and ``storage_options``. Raises MissingDependency naming the
    extra to install when the protocol's package is missing (``s3``, ``gcs``, ``azure``),
    and ConfigError for an unknown protocol.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     type(open_artifact_store(folder)).__name__
    'LocalArtifactStore'
    >>> type(open_artifact_store("memory://docs-open")).__name__
    'FsspecArtifactStore'
    """
    if isinstance(url, str) and not url.strip():
        raise ConfigError(
            "the artifact store URL is empty",
            fix="set it to a folder or a URL such as s3://bucket/prefix",
        )
    local = local_path_from_url(url)
    if local is not None:
        if storage_options:
            raise ConfigError(
                f"storage_options were given for the local artifact store {str(local)!r}",
                fix="drop storage_options, or use a remote URL such as s3://bucket/prefix",
            )
        return LocalArtifactStore(local)
    from .remote import FsspecArtifactStore

    return FsspecArtifactStore(
        check_url_path(os.fspath(url)), cache_dir=cache_dir, storage_options=storage_options
    )


def __getattr__(name: str) -> Any:
    if name == "FsspecArtifactStore":
        from .remote import FsspecArtifactStore

        return FsspecArtifactStore
    raise AttributeError(f"module 'forgeml.artifacts' has no attribute {name!r}")

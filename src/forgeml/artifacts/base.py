"""The artifact store contract, the on-store layout, and the checks every backend shares.

Layout below a store's root::

    sha256/<first 2 hex>/<64 hex>   content-addressed artifacts
    named/<key>                     named objects (e.g. log segments)
    tmp/                            local stores only: writes in progress
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from forgeml.errors import ArtifactError, ArtifactNotFound, IntegrityError

from .keys import safe_key

__all__ = [
    "BLOB_DIR",
    "CHUNK_SIZE",
    "NAMED_DIR",
    "ArtifactStore",
    "artifact_not_found",
    "blob_key",
    "hash_file",
    "integrity_error",
    "is_listable",
    "iter_chunks",
    "named_not_found",
    "split_prefix",
    "unreadable_source",
]

CHUNK_SIZE = 1 << 20
"""Bytes read or written at a time when streaming files."""

BLOB_DIR = "sha256"
NAMED_DIR = "named"


class ArtifactStore(ABC):
    """Content-addressed bytes, plus a few named objects, under one root.

    Artifacts are stored under the sha256 of their bytes, so storing the same bytes
    twice is free and every read can be checked: reads verify the hash and raise
    :class:`~forgeml.errors.IntegrityError` on a mismatch. Named objects are for data
    that is not content-addressed; their keys pass through :func:`safe_key`.

    Every method that takes a digest raises :class:`~forgeml.errors.UnsafeKey` unless it
    is 64 lowercase hex characters.
    """

    url: str
    """Where the store lives, for display; never contains credentials."""

    @abstractmethod
    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its sha256 hex digest (no rewrite if already stored)."""

    @abstractmethod
    def put_file(self, path: str | os.PathLike[str], *, move: bool = False) -> str:
        """Store the file at ``path`` (streamed, never read whole) and return its digest.

        With ``move=True`` the source file is consumed: it is renamed into place where
        the store allows that, otherwise copied and then deleted.
        """

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether an artifact with this digest is stored."""

    @abstractmethod
    def size(self, sha256: str) -> int:
        """Size in bytes of the stored artifact; ArtifactNotFound if absent."""

    @abstractmethod
    def get_bytes(self, sha256: str) -> bytes:
        """The artifact's bytes, verified against the digest before they are returned."""

    @abstractmethod
    def local_path(self, sha256: str) -> Path:
        """A verified local file holding the artifact's bytes. Treat it as read-only."""

    @abstractmethod
    def put_named(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing any old value atomically."""

    @abstractmethod
    def get_named(self, key: str) -> bytes:
        """The bytes stored under ``key``; ArtifactNotFound if there are none."""

    @abstractmethod
    def list_named(self, prefix: str = "") -> list[str]:
        """Sorted keys that start with ``prefix`` (a plain string prefix, like S3)."""

    @abstractmethod
    def delete_named(self, key: str) -> None:
        """Delete the object under ``key``; ArtifactNotFound if there is none."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"


def blob_key(sha256: str) -> str:
    """Where an (already checked) digest lives, relative to the store root.

    >>> blob_key("ab" * 32)
    'sha256/ab/abababababababababababababababababababababababababababababababab'
    """
    return f"{BLOB_DIR}/{sha256[:2]}/{sha256}"


def split_prefix(prefix: str) -> tuple[str, str]:
    """Split a listing prefix into (folder to search, string every key starts with).

    >>> split_prefix("logs/2024-")
    ('logs', 'logs/2024-')
    >>> split_prefix("logs/"), split_prefix("")
    (('logs', 'logs/'), ('', ''))
    """
    if prefix == "":
        return "", ""
    key = safe_key(prefix)
    if prefix.endswith("/"):
        return key, key + "/"
    return key.rpartition("/")[0], key


def is_listable(key: str) -> bool:
    """Whether a name found in a store is one :func:`safe_key` returns unchanged.

    Listings leave out other names (written by other tools), since no method accepts them.
    """
    try:
        return safe_key(key) == key
    except ArtifactError:
        return False


def iter_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Read ``stream`` to its end, ``chunk_size`` bytes at a time."""
    while chunk := stream.read(chunk_size):
        yield chunk


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256 hex digest, size) of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        for chunk in iter_chunks(stream):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def integrity_error(sha256: str, actual: str, where: str) -> IntegrityError:
    return IntegrityError(
        f"artifact {sha256} in {where} is corrupt: its stored bytes hash to {actual}",
        fix="delete the damaged copy and store the artifact again from its source; "
        "check that storage for other damage",
    )


def artifact_not_found(sha256: str, where: str) -> ArtifactNotFound:
    return ArtifactNotFound(
        f"no artifact {sha256} in {where}",
        fix="store it first with put_bytes() or put_file(), or check the store URL",
    )


def named_not_found(key: str, where: str) -> ArtifactNotFound:
    return ArtifactNotFound(
        f"no named object {key!r} in {where}",
        fix="check the key against list_named(), or store it first with put_named()",
    )


def unreadable_source(path: Path, error: OSError) -> ArtifactError:
    """The error for a put_file() source that cannot be read."""
    if isinstance(error, FileNotFoundError):
        reason, fix = "it does not exist", "check the path"
    elif isinstance(error, IsADirectoryError):
        reason, fix = "it is a folder", "store its files one by one, or archive the folder first"
    elif isinstance(error, PermissionError):
        reason, fix = "permission denied", "make the file readable by this user"
    else:
        reason, fix = str(error), "check that the file is readable"
    return ArtifactError(f"cannot store {str(path)!r}: {reason}", fix=fix)

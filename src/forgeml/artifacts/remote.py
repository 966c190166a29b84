"""An artifact store on any fsspec filesystem: S3, GCS, Azure, in-memory, ...

Object stores publish an object only once its upload completes, so writing straight to
the final key is atomic there. Local folders need temp-file-and-rename instead: use
:class:`~forgeml.artifacts.LocalArtifactStore` (``open_artifact_store`` picks it for
plain paths and ``file://`` URLs).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.registry import known_implementations

from forgeml.errors import (
    ArtifactError,
    ArtifactNotFound,
    ConfigError,
    ForgemlError,
    IntegrityError,
    MissingDependency,
)

from .base import (
    NAMED_DIR,
    ArtifactStore,
    artifact_not_found,
    blob_key,
    hash_file,
    integrity_error,
    is_listable,
    iter_chunks,
    named_not_found,
    split_prefix,
    unreadable_source,
)
from .keys import check_sha256, safe_key
from .local import LocalArtifactStore
from .urls import protocol_of, redact_url, scrub, secrets_in

__all__ = ["FsspecArtifactStore", "default_cache_dir"]

# the forgeml extra that installs each fsspec implementation package
EXTRAS = {"s3fs": "s3", "gcsfs": "gcs", "adlfs": "azure"}
_LOCAL_PROTOCOLS = ("file", "local")


def default_cache_dir() -> Path:
    """Where downloaded artifacts are cached unless ``cache_dir`` is given: a per-user
    folder under the system temp folder."""
    user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"forgeml-{user}" / "artifact-cache"


def _private_folder(folder: Path) -> None:
    """Create ``folder``'s parent as private to this user, and refuse one owned by another."""
    parent = folder.parent
    parent.mkdir(mode=0o700, exist_ok=True)
    if hasattr(os, "getuid") and parent.stat().st_uid != os.getuid():
        raise ConfigError(
            f"the artifact cache folder {str(parent)!r} belongs to another user",
            fix="pass cache_dir= pointing at a folder of your own",
        )


def _filesystem_class(url: str) -> type[Any]:
    """The fsspec class for ``url``'s protocol; clear errors when it cannot be used."""
    shown = redact_url(url)
    protocol = protocol_of(url)
    if "::" in url:
        raise ConfigError(
            f"the artifact store URL {shown!r} chains filesystems with '::'",
            fix="give a single URL such as s3://bucket/prefix; the store caches downloads itself",
        )
    if protocol is None:
        raise ConfigError(
            f"the artifact store URL {shown!r} has no protocol",
            fix="write it as protocol://location (e.g. s3://bucket/prefix), "
            "or use LocalArtifactStore for a folder",
        )
    if protocol in _LOCAL_PROTOCOLS:
        raise ConfigError(
            f"{shown!r} is a local folder, which FsspecArtifactStore cannot write atomically",
            fix="use LocalArtifactStore, or open_artifact_store() which picks it for you",
        )
    try:
        cls: type[Any] = fsspec.get_filesystem_class(protocol)
    except ValueError:
        raise ConfigError(
            f"the artifact store URL {shown!r} uses the unknown protocol {protocol!r}",
            fix="use a local path, or a URL starting with s3://, gs://, az:// or memory://",
        ) from None
    except ImportError as e:
        raise missing_dependency(protocol, e) from e
    return cls


def missing_dependency(
    protocol: str, error: ImportError, purpose: str | None = None
) -> MissingDependency:
    """The error for a protocol whose implementation package cannot be imported."""
    missing = error.__cause__ if isinstance(error.__cause__, ImportError) else error
    package = (getattr(missing, "name", None) or "").split(".")[0]
    if not package:
        known = known_implementations.get(protocol, {})
        package = str(known.get("class", protocol)).split(".")[0]
    purpose = purpose or f"the artifact store for {protocol}:// URLs"
    extra = EXTRAS.get(package)
    if extra is not None:
        return MissingDependency(package, extra, purpose)
    result = MissingDependency(package, package, purpose)
    result.fix = f"pip install {package}"
    return result


class FsspecArtifactStore(ArtifactStore):
    """Artifacts on any fsspec filesystem, e.g. ``s3://bucket/prefix`` or ``memory://name``.

    ``storage_options`` go to the filesystem (credentials, endpoint, ...); they never
    appear in ``url``, ``repr()`` or error messages, and neither do credentials or query
    strings in the URL.

    :meth:`local_path` downloads into ``cache_dir`` (default: :func:`default_cache_dir`),
    checking the hash while downloading; a cached copy is hashed again (streamed from
    local disk, no network) every time it is returned, and a damaged copy is fetched again.

    >>> store = FsspecArtifactStore("memory://docs-example-store")
    >>> digest = store.put_bytes(b"model")
    >>> store.get_bytes(digest), store.exists(digest)
    (b'model', True)
    """

    def __init__(
        self,
        url: str,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        options = dict(storage_options or {})
        self._secrets = secrets_in(url, options)
        self.url = redact_url(url)
        _filesystem_class(url)
        try:
            fs, root = fsspec.core.url_to_fs(url, **options)
        except TypeError as e:
            raise ConfigError(
                f"the filesystem for {self.url!r} rejected its storage_options: "
                f"{self._scrub(str(e))}",
                fix="check the option names against the filesystem's documentation",
            ) from None
        except ForgemlError:
            raise
        except Exception as e:
            raise ConfigError(
                f"cannot open the filesystem for {self.url!r}: "
                f"{self._scrub(f'{type(e).__name__}: {e}')}",
                fix="check the URL and storage_options",
            ) from None
        self._fs: Any = fs
        self._root = str(root).rstrip("/")
        if not self._root.strip("/") and protocol_of(url) != "memory":
            raise ConfigError(
                f"the artifact store URL {self.url!r} names no bucket or folder",
                fix="add one, e.g. s3://my-bucket/forgeml",
            )
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._cache: LocalArtifactStore | None = None

    # -- helpers ------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    @contextmanager
    def _remote(self, action: str) -> Iterator[None]:
        """Turn the filesystem's errors into ArtifactError, with secrets removed."""
        try:
            yield
        except ForgemlError:
            raise
        except Exception as e:
            detail = self._scrub(f"{type(e).__name__}: {e}")
            raise ArtifactError(
                f"{action} in {self.url} failed: {detail}",
                fix="check the URL, the credentials in storage_options, and network access",
            ) from None

    def _path(self, relative: str) -> str:
        return f"{self._root}/{relative}"

    def _blob(self, sha256: str) -> str:
        return self._path(blob_key(check_sha256(sha256)))

    def _file_size(self, path: str, action: str) -> int | None:
        """Size of the file at ``path``, or None if there is no file there."""
        self._fs.invalidate_cache(path)
        with self._remote(action):
            try:
                info = self._fs.info(path)
            except (FileNotFoundError, NotADirectoryError):
                return None
        if info.get("type") != "file":
            return None
        return int(info["size"])

    def _cat(self, path: str, action: str) -> bytes | None:
        with self._remote(action):
            try:
                return bytes(self._fs.cat_file(path))
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None

    def _written(self, path: str) -> None:
        self._fs.invalidate_cache(path)
        self._fs.invalidate_cache(self._fs._parent(path))

    def _cache_store(self) -> LocalArtifactStore:
        if self._cache is None:
            folder = self._cache_dir
            if folder is None:
                folder = default_cache_dir()
                _private_folder(folder)
            self._cache = LocalArtifactStore(folder)
        return self._cache

    # -- content-addressed artifacts ------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._blob(sha256)
        action = f"storing artifact {sha256}"
        if self._file_size(path, action) == len(data):
            return sha256
        with self._remote(action):
            self._fs.pipe_file(path, bytes(data))
        self._written(path)
        return sha256

    def put_file(self, path: str | os.PathLike[str], *, move: bool = False) -> str:
        """Store the file at ``path``; returns its sha256.

        The file is hashed in chunks, then uploaded by the filesystem (S3 uses a
        multipart upload for large files, published only when complete). If the file
        changes while being stored, the upload is removed and ArtifactError raised.
        With ``move=True`` the source file is deleted once it is stored.
        """
        source = Path(path)
        try:
            before = os.stat(source)
            sha256, size = hash_file(source)
        except OSError as e:
            raise unreadable_source(source, e) from e
        remote = self._blob(sha256)
        action = f"storing artifact {sha256}"
        if self._file_size(remote, action) != size:
            with self._remote(action):
                self._fs.put_file(os.fspath(source), remote)
            self._written(remote)
            after = os.stat(source)
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                with self._remote(f"removing the inconsistent upload of {sha256}"):
                    self._fs.rm_file(remote)
                self._written(remote)
                raise ArtifactError(
                    f"{str(source)!r} changed while it was being stored in {self.url}",
                    fix="store the file once whatever writes it has finished",
                )
        if move:
            source.unlink(missing_ok=True)
        return sha256

    def exists(self, sha256: str) -> bool:
        return self._file_size(self._blob(sha256), f"looking up artifact {sha256}") is not None

    def size(self, sha256: str) -> int:
        size = self._file_size(self._blob(sha256), f"looking up artifact {sha256}")
        if size is None:
            raise artifact_not_found(sha256, self.url)
        return size

    def get_bytes(self, sha256: str) -> bytes:
        data = self._cat(self._blob(sha256), f"reading artifact {sha256}")
        if data is None:
            raise artifact_not_found(sha256, self.url)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise integrity_error(sha256, actual, self.url)
        return data

    def local_path(self, sha256: str) -> Path:
        """A verified copy in the local cache, downloaded (streamed) on first use.

        >>> import tempfile
        >>> store = FsspecArtifactStore("memory://docs-local-path")
        >>> digest = store.put_bytes(b"tokenizer")
        >>> with tempfile.TemporaryDirectory() as cache:
        ...     cached = FsspecArtifactStore("memory://docs-local-path", cache_dir=cache)
        ...     cached.local_path(digest).read_bytes()
        b'tokenizer'
        """
        path = self._blob(sha256)
        cache = self._cache_store()
        try:
            return cache.local_path(sha256)
        except ArtifactNotFound:
            pass
        except IntegrityError:
            cache._discard(sha256)  # a damaged cached copy: fetch it again
        with self._remote(f"downloading artifact {sha256}"):
            try:
                remote = self._fs.open(path, "rb")
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise artifact_not_found(sha256, self.url) from None
        with remote:
            return cache._store_verified(self._download(remote, sha256), sha256, self.url)

    def _download(self, remote: BinaryIO, sha256: str) -> Iterator[bytes]:
        """The remote file's chunks; read failures become ArtifactError (never a local
        write error)."""
        with self._remote(f"downloading artifact {sha256}"):
            yield from iter_chunks(remote)

    # -- named objects ----------------------------------------------------------------------

    def _named(self, key: str) -> tuple[str, str]:
        key = safe_key(key)
        return key, self._path(f"{NAMED_DIR}/{key}")

    def put_named(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` with one upload, so readers never see a partial write.

        >>> store = FsspecArtifactStore("memory://docs-named")
        >>> store.put_named("logs/0001.jsonl", b"{}")
        >>> store.get_named("logs/0001.jsonl"), store.list_named("logs/")
        (b'{}', ['logs/0001.jsonl'])
        """
        key, path = self._named(key)
        with self._remote(f"storing named object {key!r}"):
            self._fs.pipe_file(path, bytes(data))
        self._written(path)

    def get_named(self, key: str) -> bytes:
        key, path = self._named(key)
        data = self._cat(path, f"reading named object {key!r}")
        if data is None:
            raise named_not_found(key, self.url)
        return data

    def list_named(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with ``prefix``; names written by other tools that
        :func:`safe_key` would refuse are left out."""
        folder, start = split_prefix(prefix)
        named_root = self._path(NAMED_DIR)
        base = f"{named_root}/{folder}" if folder else named_root
        self._fs.invalidate_cache(base)
        with self._remote(f"listing named objects under {prefix!r}"):
            try:
                found = self._fs.find(base, withdirs=False)
            except FileNotFoundError:
                found = []
        keys: list[str] = []
        for full in found:
            name = self._fs._strip_protocol(full)
            if not name.startswith(named_root + "/"):
                continue
            key = name[len(named_root) + 1 :]
            if key.startswith(start) and is_listable(key):
                keys.append(key)
        return sorted(keys)

    def delete_named(self, key: str) -> None:
        key, path = self._named(key)
        action = f"deleting named object {key!r}"
        if self._file_size(path, action) is None:
            raise named_not_found(key, self.url)
        with self._remote(action):
            try:
                self._fs.rm_file(path)
            except FileNotFoundError:
                raise named_not_found(key, self.url) from None
        self._written(path)

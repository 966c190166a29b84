"""An artifact store in a local folder, with crash-safe atomic writes."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from forgeml.errors import ArtifactError, ConfigError, UnsafeKey

from .base import (
    CHUNK_SIZE,
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
from .tempfiles import temp_name

__all__ = ["LocalArtifactStore"]

TMP_DIR = "tmp"


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_name() -> str:
    return temp_name(".part")


class _AtomicWriter:
    """A temporary file under ``tmp/`` that appears under its final name only on commit.

    Bytes are hashed as they are written. Leaving the ``with`` block without a commit
    (an exception, or an artifact that is already stored) deletes the temporary file.
    """

    def __init__(self, tmp_dir: Path) -> None:
        self.path = tmp_dir / _temp_name()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(self.path, flags, 0o666)
        except FileNotFoundError:  # someone cleared tmp/ away: recreate it
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, flags, 0o666)
        self._file = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def commit(self, final: Path) -> None:
        """Flush to disk and rename into ``final`` (replacing what was there)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, final)
        self._done = True
        _fsync_dir(final.parent)

    def discard(self) -> None:
        if self._done:
            return
        self._done = True
        self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> _AtomicWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


def _is_complete(path: Path, size: int) -> bool:
    """Whether ``path`` is a regular file of ``size`` bytes (an artifact already stored)."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == size


class LocalArtifactStore(ArtifactStore):
    """Artifacts in a local folder (created if missing); ``url`` is the folder's path.

    Writes go to a temporary file in ``<root>/tmp/``, are flushed and fsynced, then
    renamed into place with :func:`os.replace`, so a reader or a crash never sees a
    partial file under a final name. Temp files name their writing process; after a hard
    crash (power loss, SIGKILL) :func:`forgeml.artifacts.tempfiles.reclaim` deletes those
    of writers that are gone.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     store = LocalArtifactStore(folder)
    ...     digest = store.put_bytes(b"weights")
    ...     (store.get_bytes(digest), store.size(digest), digest[:12])
    (b'weights', 7, '9a129038d9a0')
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
        self.url = str(self.root)
        self._named = self.root / NAMED_DIR
        self._tmp = self.root / TMP_DIR
        try:
            for folder in (self.root, self._named, self._tmp):
                folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as e:
            raise ConfigError(
                f"cannot use {self.url!r} as an artifact store: a file is in the way",
                fix="point the artifact store at a folder, or move that file",
            ) from e
        except OSError as e:
            raise ConfigError(
                f"cannot create the artifact store folder {self.url!r}: {e.strerror}",
                fix="choose a folder this user can write to",
            ) from e
        self._check_inside(self._tmp, "temporary files")

    # -- content-addressed artifacts ------------------------------------------------

    def _blob_path(self, sha256: str) -> Path:
        return self.root / blob_key(check_sha256(sha256))

    def _blob_target(self, sha256: str) -> Path:
        """Where artifact ``sha256`` is written, refused if a link inside the store leads out."""
        path = self._blob_path(sha256)
        self._check_inside(path.parent, f"artifact {sha256}")
        return path

    def _check_inside(self, folder: Path, what: str) -> None:
        inside = os.path.realpath(self.root) + os.sep
        if not (os.path.realpath(folder) + os.sep).startswith(inside):
            raise UnsafeKey(
                f"{what} would be written outside {self.url}: "
                f"{folder} is (or is below) a symbolic link that leads out of the store",
                fix=f"remove the symbolic link {folder} from the store",
            )

    def _write_error(self, what: str, error: OSError) -> ArtifactError:
        return ArtifactError(
            f"could not write {what} into {self.url}: {error.strerror or error}",
            fix="check free disk space and that this user can write to the folder",
        )

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its sha256. Stored bytes are not rewritten.

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     store = LocalArtifactStore(folder)
        ...     store.put_bytes(b"x") == store.put_bytes(b"x")
        True
        """
        sha256 = hashlib.sha256(data).hexdigest()
        final = self._blob_target(sha256)
        if _is_complete(final, len(data)):
            return sha256
        view = memoryview(data)
        try:
            with _AtomicWriter(self._tmp) as writer:
                for start in range(0, len(view), CHUNK_SIZE):
                    writer.write(view[start : start + CHUNK_SIZE].tobytes())
                writer.commit(final)
        except OSError as e:
            raise self._write_error(f"artifact {sha256}", e) from e
        return sha256

    def put_file(self, path: str | os.PathLike[str], *, move: bool = False) -> str:
        """Store the file at ``path``, streamed in chunks; returns its sha256.

        With ``move=True`` the file is renamed into the store when it is on the same
        filesystem, is a regular file and has no other hard links; otherwise it is
        copied and then deleted. Either way the source path is gone afterwards.
        """
        source = Path(path)
        if move:
            try:
                moved = self._move_in(source)
            except OSError as e:
                raise self._write_error(f"the contents of {str(source)!r}", e) from e
            if moved is not None:
                return moved
        try:
            reader = source.open("rb")
        except OSError as e:
            raise unreadable_source(source, e) from e
        with reader:
            try:
                with _AtomicWriter(self._tmp) as writer:
                    for chunk in iter_chunks(reader):
                        writer.write(chunk)
                    sha256 = writer.hexdigest()
                    final = self._blob_target(sha256)
                    if not _is_complete(final, writer.size):
                        writer.commit(final)
            except OSError as e:
                raise self._write_error(f"the contents of {str(source)!r}", e) from e
        if move:
            source.unlink(missing_ok=True)
        return sha256

    def _move_in(self, source: Path) -> str | None:
        """Rename ``source`` into the store; None where it must be copied instead."""
        try:
            info = os.lstat(source)
        except OSError as e:
            raise unreadable_source(source, e) from e
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            return None  # symlinks and hard-linked files would share bytes with the outside
        staged = self._tmp / _temp_name()
        try:
            os.replace(source, staged)
        except OSError:
            return None  # another filesystem (EXDEV) or not allowed: copy instead
        try:
            sha256, size = hash_file(staged)
            _fsync_file(staged)
            final = self._blob_target(sha256)
            if _is_complete(final, size):
                staged.unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, final)
                _fsync_dir(final.parent)
        except BaseException:
            if staged.exists():
                os.replace(staged, source)  # give the caller their file back
            raise
        return sha256

    def exists(self, sha256: str) -> bool:
        return self._blob_path(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self._blob_path(sha256).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            raise artifact_not_found(sha256, self.url) from None

    def get_bytes(self, sha256: str) -> bytes:
        path = self._blob_path(sha256)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise artifact_not_found(sha256, self.url) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise integrity_error(sha256, actual, self.url)
        return data

    def local_path(self, sha256: str) -> Path:
        """The stored file itself, after a streamed hash check of its bytes.

        Do not modify the returned file: it is the store's only copy.
        """
        path = self._blob_path(sha256)
        try:
            actual, _ = hash_file(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise artifact_not_found(sha256, self.url) from None
        if actual != sha256:
            raise integrity_error(sha256, actual, self.url)
        return path

    def _store_verified(self, chunks: Iterable[bytes], sha256: str, origin: str) -> Path:
        """Write ``chunks`` as artifact ``sha256`` only if they hash to it (used as a cache)."""
        final = self._blob_target(sha256)
        try:
            with _AtomicWriter(self._tmp) as writer:
                for chunk in chunks:
                    writer.write(chunk)
                actual = writer.hexdigest()
                if actual != sha256:
                    raise integrity_error(sha256, actual, origin)
                writer.commit(final)
        except OSError as e:
            raise self._write_error(f"artifact {sha256}", e) from e
        return final

    def _discard(self, sha256: str) -> None:
        self._blob_path(sha256).unlink(missing_ok=True)

    # -- named objects ----------------------------------------------------------------

    def _named_path(self, key: str) -> tuple[str, Path]:
        key = safe_key(key)
        path = self._named / key
        inside = os.path.realpath(self._named) + os.sep
        if not os.path.realpath(path).startswith(inside):
            raise UnsafeKey(
                f"named object {key!r} resolves outside {self.url} through a symbolic link",
                fix=f"remove symbolic links from {self._named}",
            )
        return key, path

    def put_named(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``; readers see the old or the new bytes, never a mix.

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     store = LocalArtifactStore(folder)
        ...     store.put_named("logs/0001.jsonl", b"{}")
        ...     store.list_named("logs/")
        ['logs/0001.jsonl']
        """
        key, path = self._named_path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ArtifactError(
                f"cannot store named object {key!r} in {self.url}: "
                "a folder in its key is already a named object",
                fix="choose a key that does not nest under an existing object's key",
            ) from None
        if path.is_dir():
            raise ArtifactError(
                f"cannot store named object {key!r} in {self.url}: "
                "other named objects are stored below that key",
                fix="choose a different key",
            )
        try:
            with _AtomicWriter(self._tmp) as writer:
                writer.write(data)
                writer.commit(path)
        except OSError as e:
            raise self._write_error(f"named object {key!r}", e) from e

    def get_named(self, key: str) -> bytes:
        key, path = self._named_path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise named_not_found(key, self.url) from None
        except PermissionError as e:
            if path.is_dir():  # Windows reports folders this way
                raise named_not_found(key, self.url) from None
            raise ArtifactError(
                f"cannot read named object {key!r} in {self.url}: permission denied",
                fix="make the store readable by this user",
            ) from e

    def list_named(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with ``prefix``; files whose names :func:`safe_key` would
        refuse (put there by other tools) are left out."""
        folder, start = split_prefix(prefix)
        base = self._named / folder if folder else self._named
        keys: list[str] = []
        for dirpath, _dirnames, filenames in os.walk(base):
            relative = Path(dirpath).relative_to(self._named).as_posix()
            for name in filenames:
                key = unicodedata.normalize(
                    "NFC", name if relative == "." else f"{relative}/{name}"
                )
                if key.startswith(start) and is_listable(key):
                    keys.append(key)
        return sorted(keys)

    def delete_named(self, key: str) -> None:
        key, path = self._named_path(key)
        if not path.is_file():
            raise named_not_found(key, self.url)
        try:
            path.unlink()
        except FileNotFoundError:
            raise named_not_found(key, self.url) from None


def _fsync_file(path: Path) -> None:
    """Flush a file's data to disk (best effort where read-only handles cannot sync)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EBADF, errno.EINVAL, errno.EACCES):
            raise
    finally:
        os.close(fd)

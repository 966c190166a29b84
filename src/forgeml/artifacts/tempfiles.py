"""Temporary files that name their writer, so those of a killed process can be reclaimed.

A temporary file is named ``<pid>-<host>-<random><suffix>``: the process that writes it
and a short tag of the machine it runs on. A file whose writer ran on this machine and is
no longer alive can never be finished, so :func:`reclaim` deletes it; files of live
writers, and of writers on other machines sharing the folder, are left alone. Files in the
older unnamed style are deleted once they are :data:`STALE_AFTER_S` old.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> mine = folder / temp_name(".part")
>>> _ = mine.write_bytes(b"x")
>>> reclaim(folder), mine.exists()  # this process is alive: its file stays
(Reclaimed(files=0, bytes=0), True)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import time
from pathlib import Path
from typing import NamedTuple

from forgeml.processes import process_alive

__all__ = ["STALE_AFTER_S", "Reclaimed", "folder_size", "reclaim", "temp_name", "writer_of"]

STALE_AFTER_S = 6 * 3600
"""Age after which a temporary file that names no writer is deleted."""


class Reclaimed(NamedTuple):
    files: int
    bytes: int


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


_HOST = _host_tag()


def temp_name(suffix: str = "") -> str:
    """A unique file name for a temporary file written by this process.

    >>> name = temp_name(".parquet")
    >>> writer_of(name) == os.getpid(), name.endswith(".parquet")
    (True, True)
    """
    return f"{os.getpid()}-{_HOST}-{secrets.token_hex(8)}{suffix}"


def writer_of(name: str) -> int | None:
    """The process id of the writer of temp file ``name`` on this machine, else None."""
    pid, _, rest = name.partition("-")
    host = rest.partition("-")[0]
    if not pid.isascii() or not pid.isdigit() or host != _HOST:
        return None
    return int(pid)


def _reclaimable(entry: os.DirEntry[str], now: float) -> bool:
    pid = writer_of(entry.name)
    if pid is not None:
        return not process_alive(pid)
    name_has_writer = entry.name.partition("-")[0].isdigit() and entry.name.count("-") >= 2
    if name_has_writer:
        return False  # a writer on another machine sharing this folder
    return entry.stat(follow_symlinks=False).st_mtime < now - STALE_AFTER_S


def reclaim(folder: Path, *, dry_run: bool = False) -> Reclaimed:
    """Delete (or with ``dry_run`` only count) the temp files in ``folder`` no one will finish."""
    files = size = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return Reclaimed(0, 0)
    for entry in entries:
        with contextlib.suppress(OSError):
            if not entry.is_file(follow_symlinks=False) or not _reclaimable(entry, now):
                continue
            length = entry.stat(follow_symlinks=False).st_size
            if not dry_run:
                os.unlink(entry.path)
            files += 1
            size += length
    return Reclaimed(files, size)


def folder_size(folder: Path) -> Reclaimed:
    """The number of files below ``folder`` and their total size in bytes."""
    files = size = 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(dirpath, name)).st_size
                files += 1
    return Reclaimed(files, size)

"""The sha256 of the files a pipeline reads, remembered by their stat between runs.

A file is hashed again whenever its device, inode, size, modification time or change time
differs from when it was hashed. Rewriting a file sets its change time (ctime) even when
the writer puts the modification time back, and no program can set ctime itself. A file
changed less than ``RACY_S`` seconds before it was hashed is not remembered, so two writes
within one timestamp tick cannot hide behind an equal stat (git's rule for "racy" files).
The memory is a JSON file in ``.forgeml/``; losing it only costs a re-hash.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from forgeml.pipeline.context import file_sha256

__all__ = ["FILE_NAME", "RACY_S", "FileHashes"]

FILE_NAME = "file-hashes.json"
RACY_S = 2.0
MAX_FILES = 10_000  # beyond this many remembered files, start afresh


class FileHashes:
    """``sha256(path)`` that hashes a file's bytes only when its stat changed."""

    def __init__(self, memory: Path) -> None:
        self.memory = memory
        self._known: dict[str, list[Any]] | None = None
        self._changed = False

    def sha256(self, path: Path) -> str:
        try:
            found = path.stat()
        except OSError:
            return file_sha256(path)  # says clearly that the file cannot be read
        key = os.path.abspath(path)
        stamp = [found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns]
        known = self._entries()
        entry = known.get(key)
        if entry is not None and entry[:5] == stamp:
            return str(entry[5])
        digest = file_sha256(path)
        settled = time.time_ns() - max(found.st_mtime_ns, found.st_ctime_ns) > RACY_S * 1e9
        if settled:
            known[key] = [*stamp, digest]
            self._changed = True
        elif known.pop(key, None) is not None:
            self._changed = True
        return digest

    def save(self) -> None:
        """Write what was learnt (atomically); a memory that cannot be written is skipped."""
        if not self._changed or self._known is None:
            return
        known = self._known if len(self._known) <= MAX_FILES else {}
        temp = self.memory.with_name(f"{self.memory.name}.{os.getpid()}.tmp")
        try:
            self.memory.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(known), encoding="utf-8")
            temp.replace(self.memory)
        except OSError:
            temp.unlink(missing_ok=True)
            return
        self._changed = False

    def _entries(self) -> dict[str, list[Any]]:
        if self._known is None:
            self._known = _read(self.memory)
        return self._known


def _read(memory: Path) -> dict[str, list[Any]]:
    try:
        document = json.loads(memory.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    return {
        key: entry
        for key, entry in document.items()
        if isinstance(entry, list)
        and len(entry) == 6
        and all(isinstance(v, int) for v in entry[:5])
        and isinstance(entry[5], str)
    }

"""A model directory at a URL, copied to a local folder before it is served.

Vertex AI hands a custom container its model as ``AIP_STORAGE_URI=gs://bucket/path``;
``forgeml serve --model-dir`` also takes ``s3://`` and ``az://`` URLs (with the ``s3``,
``gcs`` or ``azure`` extra). Every file under the URL is copied into a fresh folder of
the local cache, each name checked so that none can land outside it; the folder is then
read like any model directory, every file's sha256 checked against its manifest.

>>> local_location("/opt/ml/model"), local_location("file:///srv/model")
('/opt/ml/model', '/srv/model')
>>> local_location("gs://bucket/model") is None
True
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from forgeml.artifacts.keys import safe_key
from forgeml.artifacts.urls import protocol_of, redact_url
from forgeml.errors import ConfigError

__all__ = ["MAX_FILES", "fetch_model_dir", "local_location"]

MAX_FILES = 10_000
"""More files than a model directory ever holds: a URL naming a whole bucket is refused."""

_LOCAL = ("file", "local")


def local_location(location: str) -> str | None:
    """``location`` as a local path, or None when it is a remote URL."""
    protocol = protocol_of(location)
    if protocol is None:
        return location
    if protocol in _LOCAL:
        return location.split("://", 1)[1]
    return None


def fetch_model_dir(location: str, cache_dir: Path | None = None) -> Path:
    """A local folder holding the model directory at ``location`` (a path or a URL)."""
    local = local_location(location)
    if local is not None:
        return Path(local)
    import fsspec

    from forgeml.artifacts.remote import default_cache_dir, missing_dependency

    shown = redact_url(location)
    protocol = str(protocol_of(location))
    try:
        fs, root = fsspec.core.url_to_fs(location)
    except ImportError as e:
        raise missing_dependency(protocol, e, f"a model directory at a {protocol}:// URL") from e
    except ValueError:
        raise ConfigError(
            f"the model location {shown!r} uses the unknown protocol {protocol!r}",
            fix="give a folder, or a URL starting with gs://, s3:// or az://",
        ) from None
    root = str(root).rstrip("/")
    files = [str(p) for p in fs.find(root)]
    if not files:
        raise ConfigError(
            f"nothing was found at the model location {shown!r}",
            fix="point it at the folder that `forgeml export MODEL OUT --format dir` wrote",
        )
    if len(files) > MAX_FILES:
        raise ConfigError(
            f"the model location {shown!r} holds more than {MAX_FILES:,} files",
            fix="point it at one exported model directory, not a whole bucket",
        )
    names = [safe_key(p[len(root) :].lstrip("/")) for p in files]  # never outside the folder
    cache = (cache_dir or default_cache_dir().parent / "model-dirs").resolve()
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256(shown.encode()).hexdigest()[:16]
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=cache))
    try:
        for source, name in zip(files, names, strict=True):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(source, str(target))
        folder = cache / digest
        shutil.rmtree(folder, ignore_errors=True)  # a fresh copy on every start
        staging.replace(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder

"""Store URLs: tell local paths from remote URLs, and keep credentials out of anything shown."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from forgeml.errors import ConfigError

__all__ = [
    "check_url_path",
    "local_path_from_url",
    "protocol_of",
    "redact_url",
    "scrub",
    "secrets_in",
]

_PROTOCOL = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#]*)@")
_LOCAL_PROTOCOLS = ("file", "local")
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.I)
MIN_SECRET_LENGTH = 4
# storage_options entries whose values are credentials
_SECRET_OPTION = re.compile(
    r"key|secret|token|password|passwd|credential|sas|signature|connection_string", re.I
)


def protocol_of(url: str) -> str | None:
    """The protocol of ``url`` (``"s3"`` for ``s3://b/p``), or None for a plain path.

    >>> protocol_of("s3://bucket/prefix"), protocol_of("/srv/artifacts")
    ('s3', None)
    """
    match = _PROTOCOL.match(url)
    return match.group(1).lower() if match else None


def redact_url(url: str) -> str:
    """``url`` without credentials (``user:pass@``), query string or fragment.

    >>> redact_url("s3://AKIA:s3cr3t@bucket/prefix/?X-Amz-Signature=abc")
    's3://bucket/prefix'
    """
    if protocol_of(url) is None:
        return url
    url = _USERINFO.sub(r"\1", url)
    url = re.split(r"[?#]", url, maxsplit=1)[0]
    protocol, _, rest = url.partition("://")
    return f"{protocol}://{rest.rstrip('/')}"


def _userinfo(url: str) -> str | None:
    match = _USERINFO.match(url)
    return match.group(2) if match and match.group(2) else None


def secrets_in(url: str, storage_options: Mapping[str, Any]) -> list[str]:
    """Strings that must never appear in a message: URL credentials and secret options."""
    found: list[str] = []
    userinfo = _userinfo(url)
    if userinfo:
        found.append(userinfo)
        found.extend(part for part in userinfo.split(":") if part)
    query = urllib.parse.urlsplit(url).query if protocol_of(url) else ""
    found.extend(value for _, value in urllib.parse.parse_qsl(query) if value)

    def visit(options: Mapping[str, Any]) -> None:
        for name, value in options.items():
            if isinstance(value, Mapping):
                visit(value)
            elif isinstance(value, str) and value and _SECRET_OPTION.search(str(name)):
                found.append(value)

    visit(storage_options)
    # very short values (placeholders such as "x") would garble every message
    found = [secret for secret in found if len(secret) >= MIN_SECRET_LENGTH]
    # longest first, so a secret containing another is replaced whole
    return sorted(set(found), key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``.

    >>> scrub("denied for key AKIA123", ["AKIA123"])
    'denied for key ***'
    """
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def local_path_from_url(url: str | os.PathLike[str]) -> Path | None:
    """The local folder ``url`` names (plain path or ``file://`` URL), or None if remote.

    >>> local_path_from_url("file:///srv/artifacts").as_posix()
    '/srv/artifacts'
    >>> local_path_from_url("s3://bucket/artifacts") is None
    True
    """
    if isinstance(url, os.PathLike):
        return Path(url)
    protocol = protocol_of(url)
    if protocol is None:
        return None if "::" in url else Path(url)
    if protocol not in _LOCAL_PROTOCOLS:
        return None
    check_url_path(url)
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host not in ("", "localhost"):
        raise ConfigError(
            f"the file URL {redact_url(url)!r} names the host {host!r}",
            fix="write an absolute local path as file:///path/to/folder, or a plain path",
        )
    from urllib.request import url2pathname  # loads http.client and ssl: only for file URLs

    return Path(url2pathname(parts.path))


def check_url_path(url: str) -> str:
    """Refuse a store URL whose path hides a separator (``%2f``, ``%5c``) or a ``..`` step.

    Decoding such a URL would name a folder other than the one it appears to name.

    >>> check_url_path("s3://bucket/team/forgeml")
    's3://bucket/team/forgeml'
    >>> check_url_path("file:///srv/store%2f..%2f..%2fetc")
    Traceback (most recent call last):
    ...
    forgeml.errors.ConfigError: the store URL 'file:///srv/store%2f..%2f..%2fetc' hides a path separator as %2f or %5c
      fix: write the path with plain '/' separators and no '..' steps
    """  # noqa: E501
    path = urllib.parse.urlsplit(url).path if protocol_of(url) else url
    problem = None
    if _ENCODED_SEPARATOR.search(path):
        problem = "hides a path separator as %2f or %5c"
    elif ".." in re.split(r"[/\\]", urllib.parse.unquote(path)):
        problem = "steps out of its folder with '..'"
    if problem:
        raise ConfigError(
            f"the store URL {redact_url(url)!r} {problem}",
            fix="write the path with plain '/' separators and no '..' steps",
        )
    return url

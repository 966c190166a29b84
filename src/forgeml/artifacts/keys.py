"""Key safety: every hash and every object name the artifact store accepts passes through here.

Hashes must be 64 lowercase hex characters. Object names are relative, ``/``-separated
keys that can never reach outside the store, on any backend or operating system.
"""

from __future__ import annotations

import re
import unicodedata

from forgeml.errors import UnsafeKey

__all__ = ["MAX_KEY_BYTES", "MAX_SEGMENT_BYTES", "check_sha256", "safe_key"]

MAX_KEY_BYTES = 1024
"""Longest key (UTF-8 bytes) accepted: the S3 limit, and well within local path limits."""

MAX_SEGMENT_BYTES = 255
"""Longest single ``/``-separated segment (UTF-8 bytes): the usual file-name limit."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:")
_GLOB_CHARS = frozenset("*?[]")
# Bidirectional controls can make a name display differently from what it is.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_KEY_FIX = "use a relative name made of '/'-separated segments, e.g. 'logs/2024-01-01/0001.jsonl'"


def _shown(value: str) -> str:
    """A short, escaped rendering of ``value`` that is safe to print in a message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_sha256(value: object) -> str:
    """Return ``value`` if it is a sha256 hex digest, else raise :class:`UnsafeKey`.

    >>> check_sha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")[:8]
    'e3b0c442'
    >>> check_sha256("../etc/passwd")
    Traceback (most recent call last):
    ...
    forgeml.errors.UnsafeKey: '../etc/passwd' is not a sha256 digest (64 lowercase hex characters)
      fix: pass the digest that put_bytes() or put_file() returned
    """
    if isinstance(value, str) and _SHA256.fullmatch(value):
        return value
    shown = _shown(value) if isinstance(value, str) else f"a {type(value).__name__}"
    fix = "pass the digest that put_bytes() or put_file() returned"
    if isinstance(value, str) and _SHA256.fullmatch(value.lower()):
        fix = "write the digest in lowercase"
    raise UnsafeKey(f"{shown} is not a sha256 digest (64 lowercase hex characters)", fix=fix)


def _character_problem(key: str) -> tuple[str, str] | None:
    for char in key:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI_CONTROLS:
            return (
                f"contains the control character U+{ord(char):04X}",
                "remove control, line-break and text-direction characters from the name",
            )
    if "\\" in key:
        return "contains a backslash", "separate folders with '/' instead of '\\'"
    if _WINDOWS_DRIVE.match(key):
        return "is a Windows drive path", _KEY_FIX
    if _URL_SCHEME.match(key):
        return "is a URL, not a name inside the store", "pass only the name below the store's root"
    if ":" in key:
        return "contains ':'", "replace ':' with '-' (e.g. in timestamps)"
    if "%" in key:
        return (
            "contains '%' (percent-encoding could be decoded into '/' or '..' by another layer)",
            "write the plain characters instead of percent-encoding them",
        )
    if key.startswith("/"):
        return "is an absolute path", _KEY_FIX
    if _GLOB_CHARS.intersection(key):
        return "contains a wildcard character (one of * ? [ ])", "remove wildcards from the name"
    return None


def _segment_problem(segment: str) -> tuple[str, str] | None:
    if segment == "..":
        return "contains a '..' segment that would leave the store", _KEY_FIX
    if segment.startswith("~"):
        return "has a segment starting with '~' (home-folder expansion)", _KEY_FIX
    if segment.endswith((".", " ")):
        return (
            f"has the segment {_shown(segment)}, which ends with '.' or a space",
            "remove trailing dots and spaces from each segment",
        )
    if segment.split(".", 1)[0].upper() in _WINDOWS_RESERVED:
        return (
            f"has the segment {_shown(segment)}, a reserved device name on Windows",
            "rename that segment",
        )
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        return (
            f"has a segment longer than {MAX_SEGMENT_BYTES} bytes",
            "shorten the segment or split it with '/'",
        )
    return None


def _normalise(key: str) -> tuple[str | None, tuple[str, str] | None]:
    """Return ``(normalised key, None)`` or ``(None, (reason, fix))``."""
    problem = _character_problem(key)
    if problem:
        return None, problem
    segments = [segment for segment in key.split("/") if segment not in ("", ".")]
    for segment in segments:
        problem = _segment_problem(segment)
        if problem:
            return None, problem
    if not segments:
        return None, ("names no object (only '/' and '.')", _KEY_FIX)
    return "/".join(segments), None


def safe_key(key: str) -> str:
    """Return ``key`` as a normalised, relative, ``/``-separated name, or raise UnsafeKey.

    Empty ``/`` and ``.`` segments collapse; the result is NFC-normalised Unicode.
    Refused: absolute and drive paths, ``..``, backslashes, control characters, ``:``
    (URL schemes, drive letters), ``%`` (encoded traversal), wildcards, ``~`` segments,
    segments ending in ``.`` or a space, Windows device names, over-long names, and names
    that turn unsafe under Unicode compatibility normalisation (e.g. fullwidth dots).

    >>> safe_key("logs/./2024//seg-0001.jsonl")
    'logs/2024/seg-0001.jsonl'
    >>> try:
    ...     safe_key("../secrets")
    ... except UnsafeKey as error:
    ...     print(error.message)
    unsafe artifact key '../secrets': contains a '..' segment that would leave the store
    """
    if not isinstance(key, str):
        raise UnsafeKey(
            f"artifact key must be a string, got a {type(key).__name__}",
            fix="pass the key as a str",
        )
    if key == "":
        raise UnsafeKey("artifact key is empty", fix=_KEY_FIX)
    nfc = unicodedata.normalize("NFC", key)
    result, problem = _normalise(nfc)
    if problem is None:
        compat = unicodedata.normalize("NFKC", nfc)
        if compat != nfc:
            _, compat_problem = _normalise(compat)
            if compat_problem is not None:
                problem = (
                    f"looks harmless but {compat_problem[0]} once Unicode look-alike "
                    "characters are normalised",
                    compat_problem[1],
                )
    if problem is None and result is not None and len(result.encode("utf-8")) > MAX_KEY_BYTES:
        problem = (f"is longer than {MAX_KEY_BYTES} bytes", "use a shorter name")
    if problem is not None or result is None:
        reason, fix = problem or ("is not a valid name", _KEY_FIX)
        raise UnsafeKey(f"unsafe artifact key {_shown(key)}: {reason}", fix=fix)
    return result

"""Who may send labels: JSON bodies only, and no cross-site browser requests.

A web page can make a visitor's browser POST a plain-text or form body to any address
without asking first (no CORS preflight); a JSON body, or a request from another site,
cannot get through that way unless the server allows it. ``POST /feedback`` therefore
takes ``application/json`` only and refuses a request whose ``Origin`` is another site
than the server's own, unless that origin is listed in ``serve.feedback_origins``.

>>> scope = {"headers": [(b"host", b"ml.example.com"), (b"origin", b"https://evil.example")]}
>>> cross_site(scope, ()), cross_site(scope, ("https://evil.example",))
(True, False)
>>> is_json({"headers": [(b"content-type", b"application/json; charset=utf-8")]})
True
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from forgeml.serve.http import Scope, header

__all__ = ["cross_site", "is_json"]


def is_json(scope: Scope) -> bool:
    """Whether the request says its body is JSON (``application/json``, any parameters)."""
    given = header(scope, b"content-type")
    if given is None:
        return False
    return given.split(b";", 1)[0].strip().lower() == b"application/json"


def cross_site(scope: Scope, allowed: Collection[str]) -> bool:
    """Whether a browser sent this request from another site than the server's own.

    No ``Origin`` header (curl, scripts, servers) is not cross-site; an origin whose host
    and port are the request's ``Host``, or one listed in ``allowed`` (``*`` allows any),
    is not either.
    """
    origin = header(scope, b"origin")
    if origin is None:
        return False
    text = origin.decode("latin-1").strip().rstrip("/")
    if "*" in allowed or text in allowed:
        return False
    host = header(scope, b"host")
    try:
        netloc = urlsplit(text).netloc
    except ValueError:
        return True
    return host is None or netloc.lower() != host.decode("latin-1").strip().lower()

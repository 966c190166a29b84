"""Names that a platform accepts, made from a model's name and version."""

from __future__ import annotations

import re

from forgeml.errors import ConfigError

__all__ = ["dns_name"]

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def dns_name(model: str, version: int | None = None, *, limit: int = 63) -> str:
    """A DNS-1123 label (Kubernetes object names, hosts): ``credit_risk`` -> ``credit-risk``.

    >>> dns_name("Credit_Risk", 3)
    'credit-risk-v3'
    """
    text = re.sub(r"[^a-z0-9-]+", "-", model.lower()).strip("-")
    if version is not None:
        text = f"{text}-v{version}"
    text = text[:limit].rstrip("-")
    if not _LABEL.fullmatch(text):
        raise ConfigError(
            f"model name {model!r} gives no valid Kubernetes name",
            fix="pass --name with lower-case letters, digits and dashes",
        )
    return text

"""The error a protocol adapter raises when a payload does not follow its contract."""

from __future__ import annotations

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """The payload breaks the protocol (not the model's signature): what, where and the fix."""

    def __init__(self, message: str, fix: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.status = status

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})"

"""Server settings that are not about the model: keys, limits, reload interval."""

from __future__ import annotations

from dataclasses import dataclass

from forgeml.serve.protocols.profiles import Profile

__all__ = ["ServeOptions"]


@dataclass(frozen=True)
class ServeOptions:
    """Server settings. Keys are compared in constant time and never logged or echoed."""

    api_key: str | None = None
    admin_key: str | None = None
    feedback_key: str | None = None
    """Also accepted on ``POST /feedback``, so label senders need not hold the API key."""
    feedback_origins: tuple[str, ...] = ()
    """Browser origins (``https://app.example.com``, or ``*``) allowed to post feedback."""
    max_body_bytes: int = 1 << 20
    reload_interval: float = 1.0
    rate_limit: float | None = None
    """Requests a second each client (address) may send; None: no limit."""
    rate_burst: int | None = None
    """Requests a client may send at once under the rate limit (default: one second's worth)."""
    max_batch: int = 1
    """Neural models: rows scored together from concurrent requests (1: no batching)."""
    max_wait_ms: float = 2.0
    """Neural models: how long the first request of a batch waits for others to join."""
    freeze_gc: bool = True
    """Freeze start-up objects out of the garbage collector (a server process owns its
    interpreter; an app embedded in a bigger process may want to leave this off)."""
    profile: Profile | None = None
    """A platform's contract (SageMaker, Vertex AI, Azure ML): its health and predict routes
    are added, taking precedence over the server's own routes of the same path."""

    def __repr__(self) -> str:  # keeps the keys out of logs and tracebacks
        return (
            f"ServeOptions(api_key={'set' if self.api_key else None}, "
            f"admin_key={'set' if self.admin_key else None}, "
            f"feedback_key={'set' if self.feedback_key else None}, "
            f"max_body_bytes={self.max_body_bytes}, reload_interval={self.reload_interval}, "
            f"rate_limit={self.rate_limit}, rate_burst={self.rate_burst}, "
            f"profile={self.profile.name if self.profile else None})"
        )

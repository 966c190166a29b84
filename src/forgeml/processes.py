"""Whether a process on this machine is still alive, for records that name their writer.

>>> import os
>>> process_alive(os.getpid())
True
"""

from __future__ import annotations

import os
import socket

__all__ = ["host_name", "process_alive"]


def host_name() -> str:
    """This machine's name, as runs record it."""
    return socket.gethostname()[:200]


def process_alive(pid: int) -> bool:
    """False only when no process ``pid`` exists here (one we may not signal counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True

"""The rule every user-chosen name (dataset, model, alias) follows, shared without imports.

>>> bool(NAME_PATTERN.match("credit-v2.1")), bool(NAME_PATTERN.match("-credit"))
(True, False)
"""

from __future__ import annotations

import re

__all__ = ["NAME_PATTERN"]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")

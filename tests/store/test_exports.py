"""The store package: its names load SQLAlchemy when first used, not when it is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

import forgeml.store as store


def test_importing_the_store_package_and_its_ledger_loads_no_sqlalchemy() -> None:
    code = (
        "import sys, forgeml.store, forgeml.store.ledger_sqlite, forgeml.project\n"
        "print('sqlalchemy' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"


def test_every_public_name_resolves_and_no_other_does() -> None:
    assert set(store.__all__) == set(store._HOMES)
    for name in store.__all__:
        assert getattr(store, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        _ = store.no_such_thing  # type: ignore[attr-defined]

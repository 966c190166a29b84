"""forgeml's Airflow provider (``pip install 'forgeml[airflow]'``, Airflow 3).

Airflow finds it through the ``apache_airflow_provider`` entry point, which names
:func:`get_provider_info`; that function imports nothing from Airflow, so listing providers
stays cheap. The hook and operators are in :mod:`.hooks` and :mod:`.operators`.

>>> info = get_provider_info()
>>> info["package-name"], info["connection-types"][0]["connection-type"]
('forgeml', 'forgeml')
"""

from __future__ import annotations

from typing import Any

from forgeml import __version__

__all__ = ["get_provider_info"]

OPERATORS = "forgeml.integrations.airflow.operators"


def get_provider_info() -> dict[str, Any]:
    """What Airflow's provider manager reads: the package, its hook and its operators."""
    return {
        "package-name": "forgeml",
        "name": "forgeml",
        "description": "Ingest, train, gate, promote, score, monitor and retrain with forgeml.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "forgeml",
                "hook-class-name": "forgeml.integrations.airflow.hooks.ForgemlHook",
            }
        ],
        "hooks": [
            {
                "integration-name": "forgeml",
                "python-modules": ["forgeml.integrations.airflow.hooks"],
            }
        ],
        "operators": [{"integration-name": "forgeml", "python-modules": [OPERATORS]}],
        "integrations": [
            {
                "integration-name": "forgeml",
                "external-doc-url": "https://github.com/forgeml/forgeml",
                "tags": ["software"],
            }
        ],
    }

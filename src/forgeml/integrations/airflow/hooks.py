"""``ForgemlHook``: a forgeml project from an Airflow connection of type ``forgeml``.

The connection's extra holds ``project`` (the folder with forgeml.yaml, or its host field),
``db_url`` (the metadata store) and ``artifacts_url`` (the artifact store), e.g.
``AIRFLOW_CONN_FORGEML_DEFAULT='{"conn_type": "forgeml", "extra": {"project": "/srv/credit",
"db_url": "postgresql+psycopg://ml@db/forgeml", "artifacts_url": "s3://ml/forgeml"}}'``.
Without a connection the project is found from ``FORGEML_PROJECT`` or the current folder.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from forgeml.config import Settings
from forgeml.project import Project

__all__ = ["ForgemlHook"]


class ForgemlHook(BaseHook):  # type: ignore[misc]
    conn_name_attr = "forgeml_conn_id"
    default_conn_name = "forgeml_default"
    conn_type = "forgeml"
    hook_name = "forgeml"

    def __init__(self, forgeml_conn_id: str | None = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.forgeml_conn_id = forgeml_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port", "login", "password"],
            "relabeling": {"host": "Project folder"},
            "placeholders": {
                "extra": '{"db_url": "postgresql+psycopg://...", "artifacts_url": "s3://..."}'
            },
        }

    def settings(self) -> dict[str, str | None]:
        """``project``, ``db_url`` and ``artifacts_url`` from the connection (None if unset)."""
        if self.forgeml_conn_id is None:
            return {"project": None, "db_url": None, "artifacts_url": None}
        connection = self.get_connection(self.forgeml_conn_id)
        extra = connection.extra_dejson or {}
        return {
            "project": extra.get("project") or connection.host or None,
            "db_url": extra.get("db_url"),
            "artifacts_url": extra.get("artifacts_url"),
        }

    def get_project(self, project: str | None = None) -> Project:
        """The project (``project`` wins over the connection's), on the connection's stores."""
        found = self.settings()
        opened = Project.find(project or found["project"])
        if found["db_url"] or found["artifacts_url"]:
            settings = Settings(
                db_url=found["db_url"] or opened.settings.db_url,
                artifacts_url=found["artifacts_url"] or opened.settings.artifacts_url,
            )
            opened = Project(opened.root, opened.spec, settings)
        return opened

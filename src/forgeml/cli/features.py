"""forgeml features, forgeml features historical, materialize, get."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from forgeml.cli.commands import make_typer
from forgeml.cli.context import state
from forgeml.cli.output import add_row, console, print_json, stages
from forgeml.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

features_app = make_typer(
    help="Feature store: list definitions, build point-in-time training sets, materialize."
)


@features_app.callback(invoke_without_command=True)
def features_list(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the entities, feature views and feature services of forgeml.yaml."""
    if ctx.invoked_subcommand is not None:
        return
    from forgeml.featurestore.definitions import FeatureRegistry

    registry = FeatureRegistry.from_spec(state(ctx).project().spec)
    if as_json:
        print_json(
            {
                "entities": {n: list(e.join_keys) for n, e in registry.entities.items()},
                "feature_views": {
                    n: {
                        "entity": v.entity,
                        "source": v.source or f"query: {v.query}",
                        "ttl": v.ttl,
                        "features": [f.name for f in v.parsed],
                    }
                    for n, v in registry.views.items()
                },
                "on_demand_views": {
                    n: {
                        "function": v.target(),
                        "inputs": dict(v.inputs),
                        "features": dict(v.features),
                    }
                    for n, v in registry.on_demand.items()
                },
                "feature_services": registry.services,
            }
        )
        return
    if not registry.views:
        console.print("no feature views: declare entities: and feature_views: in forgeml.yaml")
        return
    table = Table("view", "entity (keys)", "source", "ttl", "features")
    for name, view in registry.views.items():
        keys = ", ".join(registry.join_keys(view))
        add_row(
            table,
            name,
            f"{view.entity} ({keys})",
            view.source or "query",
            view.ttl or "-",
            ", ".join(f.name for f in view.parsed),
        )
    for name, transform in registry.on_demand.items():
        keys = ", ".join(registry.join_keys(transform))
        add_row(
            table,
            name,
            f"on demand ({keys})",
            transform.target(),
            "-",
            ", ".join(transform.features),
        )
    console.print(table)
    for name, refs in registry.services.items():
        console.print(f"service {name}: {', '.join(refs)}", markup=False)


def _read_rows(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise ConfigError(f"entity rows file {path} does not exist", fix="check the path")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path)
    raise ConfigError(f"{path} is neither .parquet nor .csv", fix="give a Parquet or CSV file")


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() == ".csv":
        frame.to_csv(tmp, index=False)
    elif path.suffix.lower() == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        raise ConfigError(f"{path} is neither .parquet nor .csv", fix="name a .parquet or .csv")
    tmp.replace(path)  # appears whole, or not at all


def _refs(service: str | None, features: str | None) -> str | list[str]:
    if (service is None) == (features is None):
        raise ConfigError(
            "name either --service or --features",
            fix="e.g. --service fraud, or --features spend:amount,spend:amount_sum_7d",
        )
    return service if service is not None else [r for r in str(features).split(",") if r]


@features_app.command("historical")
def historical_command(
    ctx: typer.Context,
    output: Path = typer.Option(..., "--output", "-o", help="Where to write (.parquet or .csv)."),
    entities: Path | None = typer.Option(
        None, "--entities", "-e", help="Entity rows (.parquet or .csv): join keys and a timestamp."
    ),
    service: str | None = typer.Option(None, "--service", "-s", help="A feature service."),
    features: str | None = typer.Option(
        None, "--features", "-f", help="Or references: view:feature,view:feature,view"
    ),
    timestamp: str = typer.Option(
        "event_timestamp", "--timestamp", "-t", help="The entity rows' timestamp column."
    ),
    start: str | None = typer.Option(None, help="Without --entities: first event time."),
    end: str | None = typer.Option(None, help="Without --entities: last event time."),
    known_as_of: bool = typer.Option(
        False, "--known-as-of", help="Ignore source rows created after each row's timestamp."
    ),
    memory_limit: str | None = typer.Option(
        None, "--memory-limit", help="DuckDB's memory limit, e.g. 2GB."
    ),
) -> None:
    """Build a point-in-time correct training set: each row gets features as of its time."""
    from forgeml.featurestore.offline import get_historical_features

    project = state(ctx).project()
    refs = _refs(service, features)
    if entities is None and start is None and end is None:
        raise ConfigError(
            "no entity rows: pass --entities FILE, or --start/--end to take every entity "
            "and event time of the views' sources in that range",
            fix="e.g. --entities rows.parquet --timestamp ts",
        )
    rows = _read_rows(entities) if entities is not None else None
    with stages("joining features point in time"):
        frame = get_historical_features(
            rows,
            refs,
            project=project,
            timestamp=timestamp,
            known_as_of=known_as_of,
            start=start,
            end=end,
            memory_limit=memory_limit,
        )
    _write(frame, output)
    read = ", ".join(frame.attrs["feature_views"].values())
    count = len(frame.attrs["feature_columns"])
    console.print(
        f"wrote {output}: {len(frame):,} rows, {count} features (from {read})",
        markup=False,
    )


@features_app.command("materialize")
def materialize_command(
    ctx: typer.Context,
    start: str | None = typer.Option(None, help="First event time (default: the watermark)."),
    end: str | None = typer.Option(None, help="Last event time (default: now)."),
    view: list[str] = typer.Option([], "--view", "-v", help="Only these views (repeatable)."),
    chunk: str = typer.Option("1d", help="Time window read per step, e.g. 6h or 1d."),
    memory_limit: str | None = typer.Option(
        None, "--memory-limit", help="DuckDB's memory limit, e.g. 1GB."
    ),
) -> None:
    """Push the latest feature values into the online store, chunk by chunk, resumably."""
    from forgeml.featurestore.materialize import materialize
    from forgeml.featurestore.online import online_url, open_online_store

    project = state(ctx).project()
    with open_online_store(online_url(project)) as store, stages("materializing") as say:
        done = materialize(
            project=project,
            store=store,
            views=view or None,
            start=start,
            end=end,
            chunk=chunk,
            memory_limit=memory_limit,
            progress=say,
        )
    for result in done:
        if result.skipped:
            console.print(f"{result.view}: up to date", markup=False)
        else:
            console.print(
                f"{result.view}: {result.rows:,} rows to {result.end} in {result.chunks} chunks "
                f"({', '.join(result.versions.values())})",
                markup=False,
            )


@features_app.command("get")
def get_command(
    ctx: typer.Context,
    key: list[str] = typer.Option(..., "--key", "-k", help="A join key: name=value (repeatable)."),
    service: str | None = typer.Option(None, "--service", "-s", help="A feature service."),
    features: str | None = typer.Option(None, "--features", "-f", help="Or view:feature,..."),
) -> None:
    """Read one entity's features from the online store (as serving does), as JSON."""
    from forgeml.featurestore.definitions import FeatureRegistry
    from forgeml.featurestore.lookup import OnlineFeatures
    from forgeml.featurestore.online import online_url, open_online_store

    project = state(ctx).project()
    entity: dict[str, Any] = {}
    for item in key:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--key {item!r} is not name=value", fix="e.g. --key customer_id=42")
        entity[name] = int(value) if value.lstrip("-").isdigit() else value
    registry = FeatureRegistry.from_spec(project.spec)
    with open_online_store(online_url(project)) as store:
        print_json(OnlineFeatures(registry, _refs(service, features), store).get(entity))

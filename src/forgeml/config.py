"""The project spec (``forgeml.yaml``) and the settings that override it.

The spec is validated with pydantic; an error names the key path, the line, what was found,
what was expected and, for a misspelt key, the nearest valid one:

>>> try:
...     parse_spec("datasets:\\n  credit:\\n    validation:\\n      rowz: {min: 1}\\n")
... except ConfigError as e:
...     print(e.message)
forgeml.yaml is invalid:
  datasets.credit.validation.rowz (line 4): unknown key; did you mean 'rows'?
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from forgeml.errors import ConfigError

__all__ = [
    "SPEC_FILE",
    "AggregationSpec",
    "BudgetSpec",
    "ColumnRule",
    "CostSpec",
    "DataPolicy",
    "DatasetSpec",
    "EntitySpec",
    "FeatureViewSpec",
    "GateSpec",
    "MonitorSpec",
    "OnDemandViewSpec",
    "PipelineSpec",
    "PolicySpec",
    "RolloutPolicy",
    "RowRule",
    "ServeSpec",
    "Settings",
    "Spec",
    "SplitSpec",
    "StepSpec",
    "StoreSpec",
    "TrainSpec",
    "ValidationSpec",
    "load_spec",
    "parse_duration",
    "parse_spec",
]

SPEC_FILE = "forgeml.yaml"
STATE_DIR = ".forgeml"
ENV_DB_URL = "FORGEML_DB_URL"
ENV_ARTIFACTS_URL = "FORGEML_ARTIFACTS_URL"

ColumnType = Literal["integer", "float", "number", "boolean", "string", "category", "timestamp"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RowRule(_Strict):
    """Bounds on the number of rows of every version."""

    min: Annotated[int, Field(ge=0)] = 1
    max: Annotated[int, Field(ge=1)] | None = None


class ColumnRule(_Strict):
    """Rules for one column. Unset rules are not checked."""

    type: ColumnType | None = None
    nullable: bool = True
    max_null_fraction: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    min: float | None = None
    max: float | None = None
    allowed: list[str | int | float | bool] | None = None
    unique: bool = False

    @model_validator(mode="after")
    def _min_below_max(self) -> ColumnRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class ValidationSpec(_Strict):
    """Rules every version of a dataset must pass before it is stored."""

    rows: RowRule = RowRule()
    required: list[str] = []
    columns: dict[str, ColumnRule] = {}


class DatasetSpec(_Strict):
    """Per-dataset settings."""

    validation: ValidationSpec = ValidationSpec()


Task = Literal["auto", "binary", "multiclass", "regression"]
SplitMethod = Literal["auto", "random", "stratified", "time", "group"]


class SplitSpec(_Strict):
    """How rows are held out for validation and testing."""

    method: SplitMethod = "auto"
    test_size: Annotated[float, Field(gt=0.0, lt=0.9)] = 0.2
    validation_size: Annotated[float, Field(gt=0.0, lt=0.9)] = 0.2
    time_column: str | None = None
    group_column: str | None = None
    cv_folds: Annotated[int, Field(ge=2, le=20)] = 5
    cv_below_rows: Annotated[int, Field(ge=0)] = 2000  # cross-validate smaller data

    @model_validator(mode="after")
    def _columns_for_method(self) -> SplitSpec:
        if self.method == "time" and not self.time_column:
            raise ValueError("method 'time' needs time_column")
        if self.method == "group" and not self.group_column:
            raise ValueError("method 'group' needs group_column")
        return self


class BudgetSpec(_Strict):
    """How long training may run: whichever limit comes first.

    ``time`` covers the whole command (search, refit, evaluation, registration) and is
    used in full unless ``trials`` caps the search's trials; ``trials`` is no cap unless set.
    """

    trials: Annotated[int, Field(ge=1)] | None = None
    time: str | None = "5m"  # e.g. 90s, 5m, 1h


class CostSpec(_Strict):
    """Business costs of errors; the decision threshold minimises expected cost."""

    false_positive: Annotated[float, Field(ge=0)] = 1.0
    false_negative: Annotated[float, Field(ge=0)] = 1.0


ENTRY_POINT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
"""``package.module:function`` (the function may be an attribute path: ``mod:Class.fit``)."""


class TrainSpec(_Strict):
    """What to train and how."""

    dataset: str | None = None
    target: str | None = None
    task: Task = "auto"
    metric: str | None = None  # default by task: roc_auc, log_loss or rmse
    split: SplitSpec = SplitSpec()
    candidates: list[str] = ["logistic", "hist_gradient_boosting", "lightgbm", "xgboost"]
    budget: BudgetSpec = BudgetSpec()
    seed: int = 0
    exclude: list[str] = []
    slices: list[str] = []
    costs: CostSpec | None = None
    class_weight: Literal["auto", "balanced", "none"] = "auto"
    calibrate: Literal["auto", "always", "never"] = "auto"
    model: str | None = None  # registry name; default: the dataset name
    features: str | None = None  # a feature service joined point in time to each row
    feature_timestamp: str | None = None  # each row's time for it; default: split.time_column
    entry_point: str | None = None  # "pkg.module:function": the user's own training code

    @model_validator(mode="after")
    def _entry_point_names_a_function(self) -> TrainSpec:
        if self.entry_point is not None and not ENTRY_POINT.fullmatch(self.entry_point):
            raise ValueError(
                f"train.entry_point {self.entry_point!r} is not 'package.module:function': "
                "name the module, a colon, then the function that takes a DataFrame and "
                "returns a fitted model, e.g. entry_point: mypkg.training:fit"
            )
        return self

    @model_validator(mode="after")
    def _costs_for_expected_cost(self) -> TrainSpec:
        if self.metric == "expected_cost" and self.costs is None:
            raise ValueError(
                "metric 'expected_cost' needs train.costs: add costs: "
                "{false_positive: 1, false_negative: 5} (your costs), or choose another metric"
            )
        return self


class Bound(_Strict):
    """A bound on a metric: absolute (min/max) or relative to the champion (min_delta/max_delta)."""

    min: float | None = None
    max: float | None = None


class DeltaBound(_Strict):
    min_delta: float | None = None
    max_delta: float | None = None


class GateSpec(_Strict):
    """Checks a candidate must pass before it is registered or promoted."""

    min_rows: Annotated[int, Field(ge=0)] = 0
    metrics: dict[str, Bound] = {}
    versus_champion: dict[str, DeltaBound] = {}
    slices: dict[str, Bound] = {}
    min_slice_rows: Annotated[int, Field(ge=1)] = 30


class StoreSpec(_Strict):
    """Where metadata and artifacts live; environment variables override both."""

    db_url: str | None = None
    artifacts_url: str | None = None


_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``6h``, ``1d`` or ``2w`` as a duration.

    >>> parse_duration("6h"), parse_duration("1d")
    (datetime.timedelta(seconds=21600), datetime.timedelta(days=1))
    """
    value = str(text).strip().lower()
    if len(value) < 2 or value[-1] not in _UNITS or not value[:-1].isdigit() or int(value[:-1]) < 1:
        raise ConfigError(f"'{text}' is not a duration", fix="use e.g. 30m, 6h, 1d or 2w")
    return timedelta(seconds=int(value[:-1]) * _UNITS[value[-1]])


Duration = Annotated[str, Field(pattern=r"^[1-9][0-9]*[mhdw]$")]


class MonitorSpec(_Strict):
    """How ``forgeml monitor`` and the loop judge a served model."""

    window: Duration = "1d"
    metric: str | None = None  # default: the training metric of the task
    max_drop: Annotated[float, Field(ge=0)] = 0.05  # allowed fall below the test metric
    min_labels: Annotated[int, Field(ge=1)] = 100
    webhooks: list[str] = []


class DataPolicy(_Strict):
    """Which rows a retraining cycle learns from."""

    mode: Literal["sliding_window", "recent_plus_reference", "all"] = "all"
    window: Duration = "90d"
    reference_rows: Annotated[int, Field(ge=0)] = 5000
    min_rows: Annotated[int, Field(ge=1)] = 500
    # a cycle started by decay or drift also trains a challenger on only this span of the
    # newest labelled rows (at least min_rows of them), and keeps the better; null: off
    recent: Duration | None = "30d"


class RolloutPolicy(_Strict):
    """How a challenger that passed its gate reaches users."""

    mode: Literal["direct", "shadow", "canary"] = "canary"
    share: Annotated[float, Field(gt=0, lt=1)] = 0.2
    predictions: Annotated[int, Field(ge=1)] = 500  # labelled ones in its arm, to decide
    max_drop: Annotated[float, Field(ge=0)] = 0.0  # how much worse than the champion it may be
    # promote at once when the held-out rows already show it better beyond doubt
    skip_when_conclusive: bool = True
    # promote at once a challenger that beats a champion the performance trigger found decayed
    skip_when_decayed: bool = True
    # promote at once a challenger that learnt from every row the champion did and newer ones
    # (data.mode 'all') and passed its gate on the held-out rows
    skip_when_informed: bool = True


class PolicySpec(_Strict):
    """When to retrain and how to roll the result out (``forgeml retrain`` and ``loop``)."""

    retrain_on: list[Literal["drift", "performance", "new_labels", "schedule", "new_data"]] = [
        "drift",
        "performance",
        "new_labels",
    ]
    schedule: Duration | None = None  # retrain when the champion is older than this
    # with 'new_labels': retrain once the labelled rows the champion has not seen reach this
    # share of all the labelled rows so far (and at least twice monitor.min_labels)
    new_labels: Annotated[float, Field(gt=0)] = 0.1
    check_every: Duration = "1h"
    evaluate_on: Duration = "14d"  # the most recent labelled rows, held out for judging
    # a challenger promoted at once is trained again on its rows plus the held-out ones
    refit: bool = False
    data: DataPolicy = DataPolicy()
    rollout: RolloutPolicy = RolloutPolicy()


class ServeSpec(_Strict):
    """How ``forgeml serve`` treats requests beyond the model's inputs."""

    passthrough: list[str] = []  # extra request fields copied to the log and the reply
    feedback_origins: list[str] = []  # browser origins allowed to POST /feedback ("*": any)


Window = Annotated[str, Field(pattern=r"^[1-9][0-9]*[smhdw]$")]


class EntitySpec(_Strict):
    """A thing features describe (a customer, a merchant): the columns that identify it."""

    join_keys: Annotated[list[str], Field(min_length=1)]
    description: str = ""


class AggregationSpec(_Strict):
    """A feature computed over a time window before each row's timestamp."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    agg: Literal["count", "sum", "mean", "min", "max", "last"]
    of: str | None = None  # the column aggregated; count without it counts rows
    window: Window  # e.g. 30s, 1h, 1d, 30d

    @model_validator(mode="after")
    def _column_for_agg(self) -> AggregationSpec:
        if self.agg != "count" and not self.of:
            raise ValueError(f"agg '{self.agg}' needs 'of': the column it aggregates")
        return self


class FeatureViewSpec(_Strict):
    """Time-stamped features of one entity, read from a dataset (at a recorded version)."""

    entity: str
    source: str | None = None  # a dataset name, optionally pinned: transactions@3
    query: str | None = None  # or DuckDB SQL over the project's datasets (latest versions)
    timestamp: str
    created_timestamp: str | None = None
    ttl: Window | None = None
    features: Annotated[list[str | AggregationSpec], Field(min_length=1)]
    description: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> FeatureViewSpec:
        if (self.source is None) == (self.query is None):
            raise ValueError("a feature view needs exactly one of 'source' (a dataset) or 'query'")
        return self


FeatureType = Literal["float", "int", "bool", "str"]


class OnDemandViewSpec(_Strict):
    """Features computed at request time by one Python function, in training and serving."""

    function: Annotated[str, Field(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")]
    inputs: Annotated[dict[str, FeatureType], Field(min_length=1)]  # field or view:feature
    features: Annotated[dict[str, FeatureType], Field(min_length=1)]
    description: str = ""


StepName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]


class StepSpec(_Strict):
    """One step of a pipeline: what it runs, after which steps, with which parameters."""

    uses: str | None = None  # a built-in step or pkg.module:function; default: the step's name
    after: list[StepName] = []
    params: dict[str, Any] = {}
    retries: Annotated[int, Field(ge=0, le=20)] = 0
    backoff: Annotated[float, Field(ge=0)] = 1.0  # seconds before the first retry, then doubled
    cache: bool = True


class PipelineSpec(_Strict):
    """A DAG of steps (``forgeml pipeline run NAME``), run locally, on Ray or by an orchestrator."""

    steps: dict[StepName, StepSpec]
    executor: Literal["local", "ray"] = "local"
    image: str | None = None  # the container image compiled pipelines run their steps in


class Spec(_Strict):
    """The whole ``forgeml.yaml``."""

    project: str = "forgeml-project"
    store: StoreSpec = StoreSpec()
    datasets: dict[str, DatasetSpec] = {}
    train: TrainSpec = TrainSpec()
    gate: GateSpec = GateSpec()
    monitor: MonitorSpec = MonitorSpec()
    policy: PolicySpec = PolicySpec()
    serve: ServeSpec = ServeSpec()
    entities: dict[str, EntitySpec] = {}
    feature_views: dict[str, FeatureViewSpec] = {}
    on_demand_views: dict[str, OnDemandViewSpec] = {}
    feature_services: dict[str, Annotated[list[str], Field(min_length=1)]] = {}
    pipelines: dict[StepName, PipelineSpec] = {}

    @model_validator(mode="after")
    def _feature_references(self) -> Spec:
        problems = _feature_problems(self)
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

    def dataset(self, name: str) -> DatasetSpec:
        """Settings for dataset ``name``; defaults when it has none."""
        return self.datasets.get(name, DatasetSpec())


def _feature_problems(spec: Spec) -> list[str]:
    """Feature views naming unknown entities, services naming unknown views or features."""
    problems = []
    for name, view in spec.feature_views.items():
        if view.entity not in spec.entities:
            problems.append(
                f"feature_views.{name}.entity: {view.entity!r} is not an entity"
                + _near(view.entity, spec.entities)
            )
        seen: set[str] = set()
        for feature in view.features:
            label = feature if isinstance(feature, str) else feature.name
            if label in seen:
                problems.append(f"feature_views.{name}.features: {label!r} is listed twice")
            seen.add(label)
    if spec.train.features and spec.train.features not in spec.feature_services:
        problems.append(
            f"train.features: {spec.train.features!r} is not a feature service"
            + _near(spec.train.features, spec.feature_services)
        )
    features = {
        name: [f if isinstance(f, str) else f.name for f in view.features]
        for name, view in spec.feature_views.items()
    }
    for name, on_demand in spec.on_demand_views.items():
        if name in features:
            problems.append(f"on_demand_views.{name}: a feature view has the same name")
        refs = [ref for ref in on_demand.inputs if ":" in ref]
        problems += _reference_problems(f"on_demand_views.{name}.inputs", refs, features)
    features |= {name: list(v.features) for name, v in spec.on_demand_views.items()}
    for name, refs in spec.feature_services.items():
        problems += _reference_problems(f"feature_services.{name}", refs, features)
    return problems


def _reference_problems(where: str, refs: list[str], features: dict[str, list[str]]) -> list[str]:
    """``view:feature`` (or ``view``) references naming no view or feature."""
    problems = []
    for ref in refs:
        view_name, _, feature = ref.partition(":")
        names = features.get(view_name)
        if names is None:
            problems.append(f"{where}: {ref!r} names no feature view" + _near(view_name, features))
        elif feature and feature not in names:
            problems.append(
                f"{where}: view {view_name!r} has no feature {feature!r}" + _near(feature, names)
            )
    return problems


def _near(word: str, choices: typing.Iterable[str]) -> str:
    options = list(choices)
    near = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    if near:
        return f"; did you mean {near[0]!r}?"
    return f"; expected one of {', '.join(options)}" if options else "; none is defined"


class Settings(BaseModel):
    """Resolved locations of the stores: environment, then spec, then the embedded default."""

    model_config = ConfigDict(frozen=True)

    db_url: str
    artifacts_url: str

    @classmethod
    def resolve(
        cls, root: Path, spec: Spec, env: typing.Mapping[str, str] | None = None
    ) -> Settings:
        """Environment, then spec, then the embedded default; relative paths mean the project's."""
        env = os.environ if env is None else env
        state = root / STATE_DIR
        db_url = env.get(ENV_DB_URL) or spec.store.db_url or f"sqlite:///{state / 'forgeml.db'}"
        artifacts = (
            env.get(ENV_ARTIFACTS_URL) or spec.store.artifacts_url or str(state / "artifacts")
        )
        return cls(db_url=_anchor_sqlite(db_url, root), artifacts_url=_anchor_path(artifacts, root))


def _anchor_sqlite(url: str, root: Path) -> str:
    """``sqlite:///rel/path.db`` relative to the project root, not the current folder."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path = url[len(prefix) :]
    if not path or path == ":memory:" or path.startswith(("/", "file:")):
        return url
    return prefix + str(root / path)


def _anchor_path(location: str, root: Path) -> str:
    """A relative artifact folder lives under the project root; URLs are kept as they are."""
    if "://" in location:
        return location
    path = Path(location).expanduser()
    return str(path if path.is_absolute() else root / path)


def load_spec(path: Path) -> Spec:
    """Read and validate ``forgeml.yaml`` at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text", fix="save it as UTF-8") from e
    return parse_spec(text, source=str(path))


MAX_SPEC_DEPTH = 64
"""The deepest nesting of mappings and lists a spec may have (real specs use fewer than 10)."""


def _check_depth(text: str, source: str) -> None:
    """Refuse YAML nested deeper than :data:`MAX_SPEC_DEPTH`, reading events without recursion."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_SPEC_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise ConfigError(
                    f"{source} nests mappings or lists more than {MAX_SPEC_DEPTH} levels deep "
                    f"(at line {line})",
                    fix="a forgeml spec needs only a few levels: check that file is the project's "
                    "spec, and flatten it",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def parse_spec(text: str, source: str = SPEC_FILE) -> Spec:
    """Validate spec text; raise :class:`ConfigError` with one line per problem.

    A key written twice in one mapping is refused (YAML loaders keep the later value
    silently):

    >>> try:
    ...     parse_spec("train:\\n  target: churned\\n  seed: 1\\n  target: status\\n")
    ... except ConfigError as e:
    ...     print(e.message)
    forgeml.yaml has the key 'train.target' twice in the same mapping, at line 2 and line 4
    """
    try:
        _check_depth(text, source)  # the loader recurses per level: refuse absurd nesting first
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
        root_node = yaml.compose(text)
    except _DuplicateKey as e:
        path = _path_at_line(yaml.compose(text), e.second, str(e.key)) or str(e.key)
        raise ConfigError(
            f"{source} has the key {path!r} twice in the same mapping, "
            f"at line {e.first} and line {e.second}",
            fix="keep one of the two: only one value can apply",
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(
            f"{source} is not valid YAML{where}: {problem}", fix="correct the YAML syntax there"
        ) from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source} must be a mapping of keys to values, got {type(data).__name__}",
            fix="start the file with keys such as 'project:' and 'datasets:'",
        )
    try:
        return Spec.model_validate(data)
    except ValidationError as e:
        lines = [_describe(err, root_node) for err in e.errors()]
        raise ConfigError(
            f"{source} is invalid:\n" + "\n".join(f"  {line}" for line in lines),
            fix="edit the keys named above; 'forgeml init' writes a commented example",
        ) from None


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, first: int, second: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key, self.first, self.second = key, first, second


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key that appears twice in one mapping."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    lines: dict[Any, int] = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # '<<' merges; explicit keys override
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            if key in lines:
                raise _DuplicateKey(key, lines[key], line)
            lines[key] = line
        except TypeError:  # an unhashable key: the constructor below reports it
            continue
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _path_at_line(node: yaml.Node | None, line: int, name: str, prefix: str = "") -> str | None:
    """The dotted path of the key ``name`` written at ``line`` (1-based), if there is one."""
    children: list[tuple[str, yaml.Node]] = []
    if isinstance(node, yaml.SequenceNode):
        children = [(prefix, item) for item in node.value]
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}.{key.value}" if prefix else str(key.value)
            found = _path_at_line(value, line, name, path)  # the innermost key wins
            if found:
                return found
            if key.start_mark.line + 1 == line and key.value == name:
                return path
    for path, child in children:
        found = _path_at_line(child, line, name, path)
        if found:
            return found
    return None


def _describe(err: Any, root_node: yaml.Node | None) -> str:
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    path = ".".join(str(p) for p in loc) or "(top level)"
    line = _line_of(root_node, loc)
    where = f"{path} (line {line})" if line else path
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(Spec, loc[:-1])
        near = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.5)
        hint = f"did you mean '{near[0]}'?" if near else f"expected one of {', '.join(allowed)}"
        return f"{where}: unknown key; {hint}"
    if err["type"] == "value_error":  # a rule across keys: the message says it all
        return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"
    got = err.get("input")
    shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
    return f"{where}: {err['msg']} (got {shown})"


def _fields_at(model: type[BaseModel], loc: list[Any]) -> list[str]:
    """Names of the fields valid at ``loc``, following nested models and dict values."""
    current: Any = model
    for part in loc:
        if typing.get_origin(current) is dict:  # this part is a user-chosen key
            current = typing.get_args(current)[1]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = _unwrap(field.annotation)
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """The model inside ``X | None``; other annotations (e.g. ``dict[str, X]``) as they are."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return annotation


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int | None:
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == str(part):
                line = key.start_mark.line + 1
                node = value
                break
        else:
            break
    return line

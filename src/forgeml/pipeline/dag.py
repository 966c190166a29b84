"""A pipeline: named steps and the steps each runs after, checked to form a DAG.

>>> p = Pipeline("nightly", [Step("train"), Step("gate", after=["train"]),
...                          Step("register", after=["gate"])])
>>> p.order()
['train', 'gate', 'register']
>>> sorted(p.descendants("gate"))
['register']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from forgeml.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from forgeml.config import PipelineSpec, Spec

__all__ = ["RETRAIN", "Pipeline", "Step", "load_pipeline", "pipeline_names"]

RETRAIN = "retrain"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")

StepFunction = Callable[..., Any]


@dataclass(frozen=True)
class Step:
    """One step: ``uses`` is a built-in step (``train``), ``pkg.module:function`` or a function.

    ``uses`` defaults to the step's name. ``params`` must be JSON values: they are part of
    the step's cache key and of compiled pipelines.
    """

    name: str
    uses: str | StepFunction | None = None
    after: Sequence[str] = ()
    params: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    backoff: float = 1.0
    cache: bool = True

    @property
    def target(self) -> str:
        """What the step runs, as text: a built-in name or ``module:function``."""
        uses = self.uses if self.uses is not None else self.name
        if callable(uses):
            return f"{uses.__module__}:{uses.__qualname__}"
        return uses


class Pipeline:
    """Steps in declaration order; :meth:`order` is a topological order that keeps it."""

    def __init__(
        self, name: str, steps: Iterable[Step], *, executor: str = "local", image: str | None = None
    ) -> None:
        self.name = _check_name(name, "pipeline")
        self.steps: dict[str, Step] = {}
        for step in steps:
            _check_name(step.name, f"step of pipeline {name!r}")
            if step.name in self.steps:
                raise ConfigError(
                    f"pipeline {name!r} has two steps named {step.name!r}",
                    fix="give each step its own name",
                )
            if step.retries < 0 or step.backoff < 0:
                raise ConfigError(
                    f"step {step.name!r} of pipeline {name!r} has a negative retries or backoff",
                    fix="use retries >= 0 and backoff >= 0 (seconds)",
                )
            self.steps[step.name] = step
        if not self.steps:
            raise ConfigError(f"pipeline {name!r} has no steps", fix="declare at least one step")
        if executor not in ("local", "ray"):
            raise ConfigError(
                f"pipeline {name!r} has executor {executor!r}", fix="use 'local' or 'ray'"
            )
        self.executor = executor
        self.image = image
        for step in self.steps.values():
            for before in step.after:
                if before not in self.steps:
                    raise ConfigError(
                        f"step {step.name!r} of pipeline {name!r} runs after {before!r}, "
                        "which is not one of its steps",
                        fix="name one of: " + ", ".join(self.steps),
                    )
        self._order = self._topological()

    def order(self) -> list[str]:
        return list(self._order)

    def descendants(self, name: str) -> set[str]:
        """Every step that depends on ``name``, directly or not."""
        self.step(name)
        found: set[str] = set()
        for other in self._order:
            step = self.steps[other]
            if any(b == name or b in found for b in step.after):
                found.add(other)
        return found

    def ancestors(self, name: str) -> set[str]:
        """Every step ``name`` depends on, directly or not."""
        found: set[str] = set()
        todo = list(self.step(name).after)
        while todo:
            current = todo.pop()
            if current not in found:
                found.add(current)
                todo.extend(self.steps[current].after)
        return found

    def step(self, name: str) -> Step:
        if name not in self.steps:
            raise NotFound(
                f"pipeline {self.name!r} has no step {name!r}",
                fix="name one of its steps: " + ", ".join(self.steps),
            )
        return self.steps[name]

    def __repr__(self) -> str:
        return f"<Pipeline {self.name}: {' -> '.join(self._order)}>"

    def _topological(self) -> list[str]:
        done: list[str] = []
        left = list(self.steps)
        while left:
            ready = [n for n in left if all(b in done for b in self.steps[n].after)]
            if not ready:
                raise ConfigError(
                    f"the steps of pipeline {self.name!r} depend on each other in a cycle: "
                    + ", ".join(left),
                    fix="remove one 'after' entry so that the steps form a chain or a DAG",
                )
            done.extend(ready)
            left = [n for n in left if n not in ready]
        return done

    @classmethod
    def from_spec(cls, name: str, spec: PipelineSpec) -> Pipeline:
        steps = [
            Step(
                name=step_name,
                uses=s.uses,
                after=tuple(s.after),
                params=dict(s.params),
                retries=s.retries,
                backoff=s.backoff,
                cache=s.cache,
            )
            for step_name, s in spec.steps.items()
        ]
        return cls(name, steps, executor=spec.executor, image=spec.image)


def retrain_pipeline() -> Pipeline:
    """The pipeline every project has: its training dataset → train → gate → register."""
    return Pipeline(
        RETRAIN,
        [
            Step("train"),
            Step("gate", after=("train",)),
            Step("register", after=("gate",)),
        ],
    )


def pipeline_names(spec: Spec) -> list[str]:
    """The declared pipelines, and ``retrain`` unless the spec declares its own."""
    return [*spec.pipelines, *([] if RETRAIN in spec.pipelines else [RETRAIN])]


def load_pipeline(name: str, spec: Spec) -> Pipeline:
    """Pipeline ``name`` of the spec (``retrain`` is built in unless the spec declares one)."""
    if name in spec.pipelines:
        return Pipeline.from_spec(name, spec.pipelines[name])
    if name == RETRAIN:
        return retrain_pipeline()
    raise NotFound(
        f"forgeml.yaml declares no pipeline {name!r}",
        fix="declare it under 'pipelines:' or run one of: " + ", ".join(pipeline_names(spec)),
    )


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{name!r} is not a valid name for a {what}",
            fix="use lower-case letters, digits, '-' and '_', starting with a letter "
            "(at most 63 characters)",
        )
    return name

"""What a server answers with: the version an alias points at, and a challenger in rollout.

A :class:`Deployment` reads the alias and the model's active rollout from the metadata
store, loads the versions (each bundle's sha256 verified before it is parsed) and keeps
them as one immutable :class:`Serving` snapshot. A version is served only once it has
answered the example rows (:mod:`forgeml.registry.model_check`) through the scorer that
will answer requests; until one has, the deployment is not ready and says why. A watcher
thread re-reads the store every ``interval`` seconds; when the alias has moved or the
rollout changed, the new versions are loaded beside the old ones and the snapshot is
replaced in one assignment. A request takes the snapshot once when it starts, so a request
in flight finishes on the version it started with and no request fails during a switch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from forgeml.errors import ForgemlError, ModelCannotPredict
from forgeml.featurestore.serving import served_features
from forgeml.project import Project
from forgeml.registry import ModelBundle
from forgeml.registry.model_check import check_predicts
from forgeml.registry.versions import ModelVersion, load_model, model_version
from forgeml.serve.inputs import OutOfRange
from forgeml.serve.rollout import Rollout, active_rollout
from forgeml.serve.scoring import Scorer

__all__ = ["Deployment", "Serving"]

log = logging.getLogger("forgeml.serve")


@dataclass(frozen=True)
class Serving:
    """One consistent view: the alias's version, and the rollout's challenger if any."""

    champion: Scorer
    rollout: Rollout | None
    challenger: Scorer | None
    loaded_at: float

    def served(self) -> list[tuple[str, int, str]]:
        out = [(self.champion.model, self.champion.number, "champion")]
        if self.rollout is not None and self.challenger is not None:
            out.append((self.challenger.model, self.challenger.number, self.rollout.mode))
        return out


class Deployment:
    """The versions one model serves, switched atomically when the store changes."""

    def __init__(
        self,
        project: Project,
        model: str,
        *,
        alias: str = "champion",
        out_of_range: OutOfRange = "flag",
        max_rows: int = 10_000,
        passthrough: Sequence[str] | None = None,
        on_switch: Callable[[Serving], None] | None = None,
    ) -> None:
        self.project = project
        self.model = model
        self.alias = alias
        self.out_of_range: OutOfRange = out_of_range
        self.max_rows = max_rows
        # request fields passed through to the log and the reply (default: serve.passthrough)
        self.passthrough = tuple(
            project.spec.serve.passthrough if passthrough is None else passthrough
        )
        self.on_switch = on_switch
        self._scorers: dict[int, Scorer] = {}
        self._refused: dict[int, ModelCannotPredict] = {}  # versions are immutable
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.serving: Serving | None = None
        self.switches = 0
        self.last_error: str | None = None

    def refresh(self) -> bool:
        """Re-read the alias and rollout; switch when they changed. True when it switched."""
        with self._lock:
            target = model_version(f"{self.model}@{self.alias}", project=self.project).version
            rollout = active_rollout(self.project, self.model)
            if rollout is not None and rollout.version == target:
                rollout = None  # the challenger was promoted: nothing beside it to roll out
            current = self.serving
            if (
                current is not None
                and current.champion.number == target
                and current.rollout == rollout
            ):
                return False
            champion = self._scorer(target)
            challenger = self._scorer(rollout.version) if rollout is not None else None
            serving = Serving(champion, rollout, challenger, time.time())
            self.serving = serving  # the switch: one reference assignment
            self._scorers = {s.number: s for s in (champion, challenger) if s is not None}
            self.switches += current is not None
        if current is not None:
            log.info("serving %s (was %s)", _describe(serving), _describe(current))
        if self.on_switch is not None:
            self.on_switch(serving)
        return True

    def load(self) -> bool:
        """The first load: a version that cannot predict leaves the deployment not ready.

        Its reason is kept in :attr:`last_error` (``/ready`` shows it) and the watcher
        keeps looking for a version that can; any other error is raised.
        """
        try:
            return self.refresh()
        except ModelCannotPredict as error:
            self._remember(error.message)
            return False

    def watch(self, interval: float = 1.0) -> None:
        """Start a daemon thread that calls :meth:`refresh` every ``interval`` seconds."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="forgeml-reload", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
                self.last_error = None
            except ForgemlError as error:  # keep serving the current version
                self._remember(str(error).splitlines()[0])
            except Exception as error:
                self._remember(f"{type(error).__name__}: {error}")

    def _remember(self, message: str) -> None:
        if message != self.last_error:
            log.warning("cannot refresh %s@%s: %s", self.model, self.alias, message)
        self.last_error = message

    def _scorer(self, number: int) -> Scorer:
        scorer = self._scorers.get(number)
        if scorer is not None:
            return scorer
        if number in self._refused:
            raise self._refused[number]
        version, bundle = load_model(f"{self.model}@{number}", project=self.project)
        try:
            return self._answering(version, bundle)
        except ModelCannotPredict as error:
            self._refused[number] = error
            raise

    def _answering(self, version: ModelVersion, bundle: ModelBundle) -> Scorer:
        """The version's scorer, once it has answered the example rows."""
        try:
            scorer = Scorer(
                version,
                bundle,
                out_of_range=self.out_of_range,
                max_rows=self.max_rows,
                passthrough=self.passthrough,
                features=served_features(version.lineage, self.project),
            )
        except Exception as e:  # an unfitted or broken model fails while scorers are built
            raise ModelCannotPredict(
                f"{version.ref} cannot be served: {type(e).__name__}: {e}",
                fix="register a fitted model that predicts, and move the alias to it",
            ) from None

        def answer(rows: np.ndarray) -> np.ndarray:
            return scorer.outputs(scorer.predictor.scores_from_matrix(rows)).scores

        check_predicts(bundle, version.signature, version.ref, predict=answer)
        return scorer


def _describe(serving: Serving) -> str:
    text = f"{serving.champion.version.ref}"
    if serving.rollout is not None and serving.challenger is not None:
        text += f" with {serving.challenger.version.ref} in {serving.rollout.describe()}"
    return text

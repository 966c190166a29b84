"""Server metrics in Prometheus' text format, kept in plain counters (cheap per request).

Exposed at ``GET /metrics``:

- ``forgeml_requests_total{path, status}``: requests answered, by route and HTTP status;
- ``forgeml_request_seconds``: a histogram of ``/predict`` latency;
- ``forgeml_predictions_total{version, arm, label}``: rows scored, by predicted class;
- ``forgeml_prediction_score``: a histogram of scores (probabilities or values);
- ``forgeml_input_flags_total{flag}``: warnings raised by the input checks;
- ``forgeml_model_info{model, version, arm}``: the versions being served (always 1);
- ``forgeml_log_rows_total{state}``: prediction-log rows handed over and written.

Each server process keeps its own counters; with several workers, Prometheus scrapes the
port repeatedly and each answer is one worker's share.

>>> m = ServingMetrics()
>>> m.request("/predict", 200, 0.0004)
>>> 'forgeml_requests_total{path="/predict",status="200"} 1' in m.render([])
True
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["LATENCY_BUCKETS", "SCORE_BUCKETS", "ServingMetrics"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class _Histogram:
    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def observe_many(self, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        if not finite.size:
            return
        for i, n in enumerate(np.bincount(np.searchsorted(self.bounds, finite, side="left"))):
            self.counts[i] += int(n)
        self.sum += float(finite.sum())
        self.count += int(finite.size)

    def lines(self, name: str) -> list[str]:
        out, running = [], 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            running += n
            out.append(f'{name}_bucket{{le="{bound}"}} {running}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{name}_sum {self.sum}")
        out.append(f"{name}_count {self.count}")
        return out


class ServingMetrics:
    """The counters of one server process."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.latency = _Histogram(LATENCY_BUCKETS)
        self.predictions: Counter[tuple[int, str, str]] = Counter()
        self.scores = _Histogram(SCORE_BUCKETS)
        self.flags: Counter[str] = Counter()
        self.shadow_errors = 0
        self.label_conflicts = 0

    def request(self, path: str, status: int, seconds: float | None = None) -> None:
        self.requests[(path, status)] += 1
        if seconds is not None:
            self.latency.observe(seconds)

    def scored(
        self,
        version: int,
        arm: str,
        scores: np.ndarray,
        labels: Sequence[Any] | None,
        flags: Iterable[str],
    ) -> None:
        if labels is None:
            self.predictions[(version, arm, "")] += len(scores)
        elif len(labels) == 1:
            self.predictions[(version, arm, _label(labels[0]))] += 1
        else:
            for label, n in Counter(map(_label, labels)).items():
                self.predictions[(version, arm, label)] += n
        if len(scores) == 1:
            value = float(scores[0])
            if value == value:  # not NaN
                self.scores.observe(value)
        else:
            self.scores.observe_many(np.asarray(scores, dtype=np.float64))
        for flag in flags:
            self.flags[flag] += 1

    def render(
        self, served: Iterable[tuple[str, int, str]], log: dict[str, int] | None = None
    ) -> str:
        """The Prometheus text exposition (format 0.0.4)."""
        lines = [
            "# HELP forgeml_requests_total Requests answered, by route and status.",
            "# TYPE forgeml_requests_total counter",
        ]
        for (path, status), n in sorted(self.requests.items()):
            lines.append(f'forgeml_requests_total{{path="{path}",status="{status}"}} {n}')
        lines += [
            "# HELP forgeml_request_seconds Latency of /predict in seconds.",
            "# TYPE forgeml_request_seconds histogram",
            *self.latency.lines("forgeml_request_seconds"),
            "# HELP forgeml_predictions_total Rows scored, by version, arm and predicted class.",
            "# TYPE forgeml_predictions_total counter",
        ]
        for (version, arm, label), n in sorted(self.predictions.items()):
            lines.append(
                f'forgeml_predictions_total{{version="{version}",arm="{arm}",'
                f'label="{_escape(label)}"}} {n}'
            )
        lines += [
            "# HELP forgeml_prediction_score Scores: probabilities (classification) or values.",
            "# TYPE forgeml_prediction_score histogram",
            *self.scores.lines("forgeml_prediction_score"),
            "# HELP forgeml_input_flags_total Input warnings, by column and kind.",
            "# TYPE forgeml_input_flags_total counter",
        ]
        for flag, n in sorted(self.flags.items()):
            lines.append(f'forgeml_input_flags_total{{flag="{_escape(flag)}"}} {n}')
        lines += [
            "# HELP forgeml_shadow_errors_total Requests the shadow challenger failed to score.",
            "# TYPE forgeml_shadow_errors_total counter",
            f"forgeml_shadow_errors_total {self.shadow_errors}",
            "# HELP forgeml_label_conflicts_total Feedback labels that differ from an earlier one.",
            "# TYPE forgeml_label_conflicts_total counter",
            f"forgeml_label_conflicts_total {self.label_conflicts}",
            "# HELP forgeml_model_info The model versions being served.",
            "# TYPE forgeml_model_info gauge",
        ]
        for model, version, arm in served:
            lines.append(
                f'forgeml_model_info{{model="{_escape(model)}",version="{version}",arm="{arm}"}} 1'
            )
        if log is not None:
            lines += [
                "# HELP forgeml_log_rows_total Prediction-log rows, by state.",
                "# TYPE forgeml_log_rows_total counter",
                *(f'forgeml_log_rows_total{{state="{k}"}} {v}' for k, v in sorted(log.items())),
            ]
        return "\n".join(lines) + "\n"


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

"""The demo's final report: the year as a timeline, in one HTML file that opens offline.

Per month: traffic and the versions that answered it, input drift, the served model's log
loss once labels arrived beside the never-retrained champion's on the same applications,
and what the loop did (alerts, retraining cycles, canary, promotion). Every figure comes
from the run: the prediction log, its feedback labels, the loop's records.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from forgeml.demo.replay import MonthRecord
from forgeml.report.charts import Series, bar_chart, inline_assets, line_chart

__all__ = ["MonthScore", "write_timeline"]


@dataclass(frozen=True)
class MonthScore:
    """Labelled quality of one month: the served answers and the never-retrained champion."""

    month: int
    served_log_loss: float
    frozen_log_loss: float
    served_auc: float
    frozen_auc: float
    default_rate: float


def write_timeline(
    path: Path,
    months: Sequence[MonthRecord],
    scores: Sequence[MonthScore],
    *,
    summary: Sequence[str],
    history: Sequence[str],
) -> Path:
    x = [float(m.month) for m in months]
    traffic = bar_chart(
        [f"{m.month}" for m in months],
        [float(m.rows) for m in months],
        title="Applications scored per month",
        y_label="applications",
    )
    drift = line_chart(
        [Series("share of inputs drifted", x, [_nan(m.drift_share) for m in months], markers=True)],
        x_label="month",
        y_label="share",
        title="Input drift against the champion's training data (FDR-controlled)",
        y_range=(0.0, 1.0),
        integer_x=True,
        percent=True,
    )
    by_month = {s.month: s for s in scores}
    xs = [float(s.month) for s in scores]
    quality = line_chart(
        [
            Series("served (with the loop)", xs, [s.served_log_loss for s in scores], markers=True),
            Series("never retrained", xs, [s.frozen_log_loss for s in scores], markers=True),
        ],
        x_label="month",
        y_label="log loss",
        title="Log loss once the labels arrived (lower is better)",
        integer_x=True,
    )
    versions = line_chart(
        [
            Series(
                "champion version",
                x,
                [_nan(m.champion) for m in months],
                markers=True,
                step=True,
            )
        ],
        x_label="month",
        y_label="version",
        title="Champion version at each month end",
        integer_x=True,
        integer_y=True,
    )
    rows = "".join(
        "<tr>"
        f"<td>{m.month}</td><td>{m.rows:,}</td>"
        f"<td>{html.escape(', '.join(f'@{v}: {n:,}' for v, n in sorted(m.versions.items())))}</td>"
        f"<td>{'-' if m.drift_share is None else f'{m.drift_share:.0%}'}"
        f"{html.escape(' (' + ', '.join(m.drifted[:4]) + ')') if m.drifted else ''}</td>"
        f"<td>{_cell(by_month.get(m.month))}</td>"
        f"<td>{'<br>'.join(html.escape(e) for e in m.events) or '-'}</td>"
        "</tr>"
        for m in months
    )
    items = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    moves = "".join(f"<li>{html.escape(line)}</li>" for line in history)
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>forgeml demo: a year of credit decisions</title>
<style>body{{font:15px system-ui,sans-serif;max-width:64rem;margin:2rem auto;
padding:0 1rem;color:#222}}
table{{border-collapse:collapse;width:100%;font-size:13px}}td,th{{border-bottom:1px solid #ddd;
padding:.3rem .5rem;text-align:left;vertical-align:top}}figure{{margin:0;min-width:0}}
.grid{{display:grid;grid-template-columns:1fr 1fr;gap:1rem}}</style>{inline_assets()}</head><body>
<h1>A year of credit decisions, with the loop closed</h1>
<p>Generated applications with an economic shock from month 7, served over HTTP, labels
arriving 30 days late, monitored, retrained, canaried and promoted by forgeml.</p>
<h2>What happened</h2><ul>{items}</ul>
<div class="grid"><div>{traffic}</div><div>{drift}</div>
<div>{quality}</div><div>{versions}</div></div>
<h2>Month by month</h2>
<table><tr><th>month</th><th>scored</th><th>answered by</th><th>input drift</th>
<th>log loss (served / never retrained)</th><th>the loop</th></tr>{rows}</table>
<h2>Alias moves</h2><ul>{moves}</ul></body></html>"""
    path.write_text(page, encoding="utf-8")
    return path


def _cell(score: MonthScore | None) -> str:
    if score is None:
        return "-"
    return f"{score.served_log_loss:.3f} / {score.frozen_log_loss:.3f}"


def _nan(value: float | int | None) -> float:
    return math.nan if value is None else float(value)

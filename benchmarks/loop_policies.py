"""Benchmark: forgeml's default retraining policy vs. never, every window, and a monthly cron.

Claim: on a drifting stream with delayed labels, the loop with forgeml's default policy
(the spec sets no ``policy:`` at all) serves predictions whose mean ROC AUC per window is
at least that of the best fixed schedule (retraining every window, or every month), with
fewer retrains, and none of its promotions lowers the next window's AUC by more than that
AUC's own 95% confidence interval.

The stream (generated here, seeded): a binary label from five numeric inputs, over a year
after six months of history, with each kind of drift in turn: gradual (the weights of two
inputs trade places over the first quarter), sudden (one input's effect flips in month 5),
seasonal (the base rate and one input's effect follow the season all year), recurring (the
pre-flip regime returns in months 9 and 10). ``--stream seattle`` uses a real table
instead: daily Seattle weather 2012-2015 as shipped inside ``vega_datasets`` (no download),
predicting a wet day (rain, drizzle or snow) from the day's temperatures and wind, with
strong seasons; a small real table, so its windows are a month and its ticks a week.

Each policy gets a fresh project with the same champion, trained on the history. The
script then replays the stream through the Python API with a simulated clock (no HTTP):
each day's rows are scored by the champion (or, during a canary, a share by the
challenger) and logged with their time; each label is logged when it arrives, a week (the
weather: a day) later. After each day:

* ``never``: nothing;
* ``every window`` / ``monthly``: the cron job of a team without forgeml's loop: at each
  window's (month's) end, train on every row labelled so far plus the history, and ship
  it (``forgeml train``, promoted without a comparison);
* ``default``: ``forgeml.loop.tick(model, now=...)`` every ``--tick`` days with the
  default policy.

A window's metric is the ROC AUC of what was served in it. For every promotion, the next
window's rows are scored by the new and the old champion; a promotion "hurts" when the old
one's AUC there exceeds the new one's by more than the 95% interval of the new AUC
(Hanley-McNeil). The script prints one line per policy, then ours against the best fixed
schedule and PASS or MISS.

    .venv/bin/python benchmarks/loop_policies.py                  # the generated year
    .venv/bin/python benchmarks/loop_policies.py --stream seattle
    .venv/bin/python benchmarks/loop_policies.py --quick          # half a year, fewer rows
"""

from __future__ import annotations

import argparse
import itertools
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.metrics import roc_auc_score

from forgeml.data.ingest import ingest
from forgeml.loop.daemon import tick
from forgeml.project import Project
from forgeml.registry import load_model, model_version, promote
from forgeml.serve.predlog import PredictionLog
from forgeml.serve.rollout import active_rollout
from forgeml.store import cycles
from forgeml.training.predict import Predictor
from forgeml.training.trainer import train

MODEL = "stream"
INPUTS = ["x1", "x2", "x3", "x4", "season"]
SPEC = """\
project: loop-benchmark
train:
  target: y
  exclude: [at]
  candidates: [logistic, lightgbm]
  budget: {{trials: {trials}}}
"""


@dataclass(frozen=True)
class Stream:
    history: pa.Table  # the champion's training rows
    live: pa.Table  # replayed after it, in time order
    start: datetime
    days: int
    window: timedelta
    label_delay: timedelta
    inputs: list[str]


@dataclass
class Outcome:
    policy: str
    metrics: list[float] = field(default_factory=list)  # per window
    retrains: int = 0
    promotions: list[datetime] = field(default_factory=list)
    hurt: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mean(self) -> float:
        """Over the windows whose AUC is defined (a window of one class has none)."""
        return float(np.nanmean(self.metrics))


def generated(days: int, per_day: int, seed: int = 0) -> Stream:
    """The year of drifts described in the module docstring, after 180 days of history."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    history_days = 180

    def rows(first: int, count_days: int) -> pa.Table:
        n = count_days * per_day
        day = np.sort(rng.integers(first, first + count_days, size=n))
        seconds = rng.uniform(0, 86400, size=n)
        x = rng.normal(size=(n, 4))
        season = np.sin(2 * np.pi * (day % 365) / 365)
        x[:, 0] += 0.5 * season  # the inputs move with the season too
        t = np.clip(day / 90.0, 0.0, 1.0)  # gradual: the first quarter of the year
        w1, w2 = 1.5 - 1.0 * t, 0.5 + 1.0 * t
        flipped = (day >= 120) & ~((day >= 240) & (day < 300))  # sudden, then recurring
        w3 = np.where(flipped, -1.2, 1.2)
        logit = w1 * x[:, 0] + w2 * x[:, 1] + w3 * x[:, 2] + 0.8 * season * x[:, 3] + 0.8 * season
        y = rng.random(n) < 1 / (1 + np.exp(-logit))
        at = [
            start + timedelta(days=int(d), seconds=float(s))
            for d, s in zip(day, seconds, strict=True)
        ]
        return pa.table(
            {
                "x1": x[:, 0],
                "x2": x[:, 1],
                "x3": x[:, 2],
                "x4": x[:, 3],
                "season": season + rng.normal(scale=0.1, size=n),
                "at": pa.array(at, pa.timestamp("us", "UTC")),
                "y": y,
            }
        )

    return Stream(
        history=rows(-history_days, history_days),
        live=rows(0, days),
        start=start,
        days=days,
        window=timedelta(days=14),
        label_delay=timedelta(days=7),
        inputs=INPUTS,
    )


def seattle() -> Stream:
    """Seattle's daily weather (vega_datasets' local copy): is the day wet?"""
    from vega_datasets import data

    frame = data.seattle_weather()
    at = [datetime(d.year, d.month, d.day, 12, tzinfo=UTC) for d in frame["date"]]
    table = pa.table(
        {
            "temp_max": frame["temp_max"].to_numpy(dtype=float),
            "temp_min": frame["temp_min"].to_numpy(dtype=float),
            "wind": frame["wind"].to_numpy(dtype=float),
            "at": pa.array(at, pa.timestamp("us", "UTC")),
            "y": frame["weather"].isin(["rain", "drizzle", "snow"]).to_numpy(),
        }
    )
    split = datetime(2013, 1, 1, tzinfo=UTC)
    times = table.column("at")
    history = table.filter(pc.less(times, pa.scalar(split, times.type)))
    live = table.filter(pc.greater_equal(times, pa.scalar(split, times.type)))
    return Stream(
        history=history,
        live=live,
        start=split,
        days=(datetime(2016, 1, 1, tzinfo=UTC) - split).days,
        window=timedelta(days=30),
        label_delay=timedelta(days=1),
        inputs=["temp_max", "temp_min", "wind"],
    )


def template(stream: Stream, root: Path, trials: int) -> Path:
    """A project whose champion learnt from the stream's history."""
    root.mkdir(parents=True)
    (root / "forgeml.yaml").write_text(SPEC.format(trials=trials))
    project = Project.init(root)
    version = ingest(stream.history, name=MODEL, project=project).version
    assert train(dataset_ref=version.ref, project=project).model is not None
    project.close()
    return root


def auc(y: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else math.nan


def auc_interval(value: float, y: np.ndarray) -> float:
    """Half the width of the 95% interval of an AUC (Hanley and McNeil, 1982)."""
    pos, neg = float(y.sum()), float(len(y) - y.sum())
    q1, q2 = value / (2 - value), 2 * value**2 / (1 + value)
    var = (value * (1 - value) + (pos - 1) * (q1 - value**2) + (neg - 1) * (q2 - value**2)) / (
        pos * neg
    )
    return 1.96 * math.sqrt(max(var, 0.0))


class Replay:
    """One policy's project, served and labelled day by day on a simulated clock."""

    def __init__(self, stream: Stream, root: Path) -> None:
        self.stream = stream
        self.project = Project.load(root)
        self.times = np.array(
            [t.timestamp() for t in stream.live.column("at").to_pylist()], dtype=np.float64
        )
        self.y = np.asarray(stream.live.column("y").to_pylist(), dtype=bool)
        self.served = np.full(len(self.y), np.nan)
        self.labelled = 0  # rows whose label has been logged
        self.rng = np.random.default_rng(7)
        self._predictors: dict[int, Predictor] = {}
        signature = model_version(f"{MODEL}@1", project=self.project).signature
        self.log = PredictionLog(self.project, MODEL, signature["inputs"])

    def predictor(self, version: int) -> Predictor:
        if version not in self._predictors:
            _, bundle = load_model(f"{MODEL}@{version}", project=self.project)
            self._predictors[version] = Predictor(bundle)
        return self._predictors[version]

    def serve(self, lo: int, hi: int, at: float) -> None:
        """Score rows ``[lo, hi)`` (one day) as the server would at that time."""
        if hi <= lo:
            return
        rows = self.stream.live.slice(lo, hi - lo)
        champion = model_version(f"{MODEL}@champion", project=self.project).version
        arms = np.full(hi - lo, champion)
        rollout = active_rollout(self.project, MODEL)
        if rollout is not None and rollout.mode == "canary":
            arms[self.rng.random(hi - lo) < rollout.share] = rollout.version
        for version in np.unique(arms):
            picked = np.flatnonzero(arms == version)
            chosen = rows.take(pa.array(picked))
            scores = self.predictor(int(version)).scores(chosen)
            self.served[lo + picked] = scores
            self.log.log_predictions(
                ids=[f"r{lo + i}" for i in picked],
                version=int(version),
                arm="champion" if version == champion else "canary",
                inputs={n: chosen.column(n).to_pylist() for n in self.stream.inputs},
                scores=scores,
                labels=list(scores >= 0.5),
                latency_ms=1.0,
                time=at,
            )

    def label(self, now: float) -> None:
        """Log every label that has arrived by ``now``."""
        delay = self.stream.label_delay.total_seconds()
        ready = int(np.searchsorted(self.times + delay, now, side="right"))
        for lo in range(self.labelled, ready, 2000):
            hi = min(ready, lo + 2000)
            ids = [f"r{i}" for i in range(lo, hi)]
            self.log.log_feedback(ids, [bool(v) for v in self.y[lo:hi]], time=now)
        self.labelled = max(self.labelled, ready)
        self.log.flush()

    def labelled_table(self) -> pa.Table:
        """History plus every live row whose label has arrived (what a cron job would use)."""
        live = self.stream.live.slice(0, self.labelled)
        return pa.concat_tables([self.stream.history, live])

    def close(self) -> None:
        self.log.close()
        self.project.close()


Policy = Callable[[Replay, datetime, bool], int]  # returns the trainings it ran


def cron(every_days: int | None) -> Policy:
    """Train on everything labelled so far and ship it, at each window end (or month)."""
    last: dict[str, datetime] = {}

    def act(replay: Replay, now: datetime, window_end: bool) -> int:
        if every_days is None:
            due = window_end
        else:
            due = now - last.get("at", replay.stream.start) >= timedelta(days=every_days)
        if not due:
            return 0
        last["at"] = now
        version = ingest(replay.labelled_table(), name=MODEL, project=replay.project).version
        result = train(dataset_ref=version.ref, project=replay.project, promote=False)
        if result.model is not None:
            promote(result.model.ref, reason="scheduled retrain", project=replay.project)
        return 1

    return act


def never(replay: Replay, now: datetime, window_end: bool) -> int:
    return 0


def default_loop(every_days: int, explain: bool = False) -> Policy:
    ticks = {"n": 0}

    def act(replay: Replay, now: datetime, window_end: bool) -> int:
        ticks["n"] += 1
        if ticks["n"] % every_days:
            return 0
        done = tick(MODEL, project=replay.project, now=now)
        if explain:
            said = (
                done.quiet()
                or ", ".join(done.fired)
                or (done.verdict.describe() if done.verdict else "")
            )
            print(f"    tick {now:%Y-%m-%d}: {said}", flush=True)
        return sum(1 for c in done.cycles if "challenger" in c.details)

    return act


def run(stream: Stream, root: Path, name: str, policy: Policy) -> Outcome:
    work = root.parent / f"{root.name}-{name.replace(' ', '-')}"
    shutil.copytree(root, work)
    replay = Replay(stream, work)
    outcome = Outcome(name)
    began = time.perf_counter()
    champions: list[tuple[datetime, int]] = [(stream.start, 1)]
    try:
        window_days = stream.window.days
        for day in range(stream.days):
            start = stream.start + timedelta(days=day)
            end = start + timedelta(days=1)
            lo = int(np.searchsorted(replay.times, start.timestamp()))
            hi = int(np.searchsorted(replay.times, end.timestamp()))
            replay.serve(lo, hi, at=start.timestamp() + 43200)
            replay.label(end.timestamp())
            window_end = (day + 1) % window_days == 0
            outcome.retrains += policy(replay, end, window_end)
            now_champion = model_version(f"{MODEL}@champion", project=replay.project).version
            if now_champion != champions[-1][1]:
                champions.append((end, now_champion))
        outcome.seconds = time.perf_counter() - began
        edges = [stream.start + k * stream.window for k in range(stream.days // window_days + 1)]
        for lo_t, hi_t in itertools.pairwise(edges):
            rows = _between(replay.times, lo_t, hi_t)
            outcome.metrics.append(auc(replay.y[rows], replay.served[rows]))
        for (at, new), (_, old) in zip(champions[1:], champions[:-1], strict=True):
            outcome.promotions.append(at)
            rows = _between(replay.times, at, at + stream.window)
            if len(rows) < 20:
                continue
            table = stream.live.take(pa.array(rows))
            y = replay.y[rows]
            ours = auc(y, replay.predictor(new).scores(table))
            theirs = auc(y, replay.predictor(old).scores(table))
            if math.isnan(ours) or math.isnan(theirs):  # one class only: no AUC to compare
                continue
            if theirs - ours > auc_interval(ours, y):
                outcome.hurt.append(f"@{old}→@{new} on {at:%Y-%m-%d}: {theirs:.3f}→{ours:.3f}")
        if name == "default":
            with replay.project.store.read() as session:
                for c in reversed(cycles.latest(session, MODEL, limit=1000)):
                    why = str((c.details or {}).get("reason", ""))[:110]
                    print(f"    cycle {c.key}: {c.status} {why}", flush=True)
    finally:
        replay.close()
    return outcome


def _between(times: np.ndarray, lo: datetime, hi: datetime) -> np.ndarray:
    a = int(np.searchsorted(times, lo.timestamp()))
    b = int(np.searchsorted(times, hi.timestamp()))
    return np.arange(a, b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stream", choices=["generated", "seattle"], default="generated")
    parser.add_argument("--quick", action="store_true", help="half a year, fewer rows")
    parser.add_argument("--per-day", type=int, default=60, help="generated rows per day")
    parser.add_argument("--trials", type=int, default=4, help="search trials per training")
    parser.add_argument("--tick", type=int, default=0, help="days between loop ticks")
    parser.add_argument("--explain", action="store_true", help="print each loop tick")
    parser.add_argument(
        "--policies", nargs="+", default=None, help="run only these (for a quick look)"
    )
    args = parser.parse_args(argv)
    if args.stream == "seattle":
        stream = seattle()
    else:
        days, per_day = (182, 30) if args.quick else (364, args.per_day)
        stream = generated(days, per_day)
    tick_days = args.tick or (7 if args.stream == "seattle" else 2)
    policies: list[tuple[str, Policy]] = [
        ("never", never),
        ("every window", cron(None)),
        ("monthly", cron(30)),
        ("default", default_loop(tick_days, args.explain)),
    ]
    print(
        f"stream {args.stream}: {stream.history.num_rows} history rows, {stream.live.num_rows} "
        f"live rows over {stream.days} days, windows of {stream.window.days} days, labels "
        f"{stream.label_delay.days} days late; metric ROC AUC per window",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="forgeml-loop-bench-") as tmp:
        root = template(stream, Path(tmp) / "template", args.trials)
        outcomes = []
        for name, policy in policies:
            if args.policies and name.replace(" ", "-") not in args.policies:
                continue
            outcome = run(stream, root, name, policy)
            outcomes.append(outcome)
            print(
                f"  {name:<13} mean AUC {outcome.mean:.4f}  retrains {outcome.retrains:>3}  "
                f"promotions {len(outcome.promotions):>3}  hurt {len(outcome.hurt)}  "
                f"({outcome.seconds:.0f} s)",
                flush=True,
            )
    ours = outcomes[-1]
    fixed = [o for o in outcomes if o.policy in ("every window", "monthly")]
    if ours.policy != "default" or not fixed:
        return 0
    best = max(fixed, key=lambda o: o.mean)
    ok = ours.mean >= best.mean and ours.retrains < best.retrains and not ours.hurt
    for line in ours.hurt:
        print(f"  hurting promotion: {line}")
    print(
        f"default {ours.mean:.4f} vs best fixed schedule ({best.policy}) {best.mean:.4f}: "
        f"difference {ours.mean - best.mean:+.4f}, retrains {ours.retrains} vs {best.retrains} "
        f"(ratio {ours.retrains / max(best.retrains, 1):.2f}), hurting promotions "
        f"{len(ours.hurt)} — {'PASS' if ok else 'MISS'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What ``forgeml init`` writes: a commented ``forgeml.yaml`` and a ``.gitignore``.

Every section of the spec is shown with its defaults, commented out: remove the leading
``# `` from a section's lines to use it. Uncommented as a whole, the template is a valid spec.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GITIGNORE_ENTRY", "SPEC_TEMPLATE", "ignore_state"]

GITIGNORE_ENTRY = ".forgeml/"

SPEC_TEMPLATE = """\
# forgeml project spec. Every key is optional; defaults are shown commented out.
# To use a section, remove the leading '# ' from its lines.
project: {name}

# Where metadata and artifacts live. Environment variables win over these keys:
#   FORGEML_DB_URL         e.g. postgresql+psycopg://user@host:5432/forgeml
#   FORGEML_ARTIFACTS_URL  e.g. s3://bucket/forgeml  (needs forgeml[s3])
# store:
#   db_url: sqlite:///.forgeml/forgeml.db
#   artifacts_url: .forgeml/artifacts

# Validation rules per dataset name; a version that breaks one is not stored.
# datasets:
#   credit:
#     validation:
#       rows: {{min: 1000}}
#       required: [income, defaulted]
#       columns:
#         age: {{type: integer, min: 18, max: 120, nullable: false}}
#         region: {{type: category, allowed: [north, south, east, west]}}
#         income: {{type: number, min: 0, max_null_fraction: 0.05}}
#         customer_id: {{unique: true}}

# What 'forgeml train' trains, and how.
# train:
#   dataset: credit            # default dataset (else pass --dataset)
#   target: defaulted          # the column to predict (else pass --target)
#   task: auto                 # auto, binary, multiclass or regression
#   metric: roc_auc            # default by task: roc_auc, log_loss or rmse
#   exclude: [customer_id]     # columns that are not inputs (ids, free text)
#   slices: [region]           # columns whose values get their own metrics
#   candidates: [logistic, hist_gradient_boosting, lightgbm, xgboost]
#   budget: {{trials: 40, time: 5m}}   # whichever comes first
#   split: {{method: auto, test_size: 0.2, validation_size: 0.2}}
#   costs: {{false_positive: 1, false_negative: 5}}   # sets the decision threshold
#   seed: 0

# Checks a model must pass to be registered and promoted. Without this section the
# default gate applies: the main metric must beat a trivial baseline (the majority
# class, or the mean) and must not be worse than the champion's on the same rows.
# gate:
#   min_rows: 100                                # test rows needed to judge at all
#   metrics: {{roc_auc: {{min: 0.75}}}}
#   versus_champion: {{roc_auc: {{min_delta: -0.005}}}}   # how much worse it may be
#   slices: {{roc_auc: {{min: 0.65}}}}               # each value of each train.slices column
#   min_slice_rows: 30                           # smaller slices are skipped, and say so

# How 'forgeml monitor' and the loop judge a served model.
# monitor:
#   window: 1d                 # the span of predictions each check looks at
#   metric: roc_auc            # default: the training metric
#   max_drop: 0.05             # allowed fall below the test metric
#   min_labels: 100            # labels needed before performance is judged
#   webhooks: [https://hooks.example.com/forgeml]

# When 'forgeml retrain' and 'forgeml loop' retrain, and how the result reaches users.
# policy:
#   retrain_on: [drift, performance, new_labels]   # also: schedule, new_data
#   new_labels: 0.1            # retrain once this share of new labelled rows has arrived
#   check_every: 1h
#   evaluate_on: 14d           # the most recent labelled rows, held out for judging
#   refit: false               # true: a challenger promoted at once learns the held-out rows too
#   data: {{mode: all, window: 90d, reference_rows: 5000, min_rows: 500, recent: 30d}}
#   rollout: {{mode: canary, share: 0.2, predictions: 500, max_drop: 0.0}}

# What 'forgeml serve' accepts besides the model's inputs.
# serve:
#   passthrough: [customer_id]   # sent with a request, logged and echoed, not an input
#   feedback_origins: []         # web pages (origins) allowed to POST /feedback; "*": any

# The feature store ('forgeml features ...', needs forgeml[featurestore]): entities, feature
# views read from datasets at a recorded version, and the services models use
# (train.features: SERVICE trains on them point in time; serving fetches them by entity key).
# entities:
#   customer: {{join_keys: [customer_id]}}
# feature_views:
#   spend:
#     entity: customer
#     source: transactions     # a dataset (transactions@3 pins a version), or query: SQL
#     timestamp: ts
#     ttl: 30d
#     features: [amount, {{name: amount_sum_7d, agg: sum, of: amount, window: 7d}}]
# on_demand_views:
#   risk:                        # one Python function, computed in training and in serving
#     function: rules:payment_risk   # pkg.module:function
#     inputs: {{amount: float, "spend:amount_sum_7d": float}}  # request field, view feature
#     features: {{amount_share: float}}
# feature_services:
#   fraud: [spend:amount, spend:amount_sum_7d, risk]

# Pipelines: steps with cached results ('forgeml pipeline run NAME'). Built-in steps:
# ingest, validate, train, gate, register, predict, monitor; or pkg.module:function.
# Every project also has the pipeline 'retrain' (train.dataset -> train -> gate -> register).
# pipelines:
#   nightly:
#     executor: local          # or ray (needs forgeml[ray])
#     image: forgeml:latest    # what compiled Airflow / Kubeflow / Argo steps run in
#     steps:
#       ingest: {{params: {{source: data/credit.csv, name: credit}}}}
#       train: {{after: [ingest]}}
#       gate: {{after: [train]}}
#       register: {{after: [gate], retries: 2, backoff: 5}}
#       score: {{uses: predict, after: [register], params: {{input: new.csv, output: s.parquet}}}}
"""


def ignore_state(folder: Path) -> Path:
    """Make ``folder/.gitignore`` ignore the local state folder (added once, never twice)."""
    path = folder / ".gitignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if not any(line.strip().rstrip("/") == GITIGNORE_ENTRY.rstrip("/") for line in lines):
        text = "\n".join(
            [*lines, "# forgeml's local metadata, artifacts and cache", GITIGNORE_ENTRY]
        )
        path.write_text(text + "\n", encoding="utf-8")
    return path

"""Monitoring: reference profiles, mergeable window profiles, drift and data quality.

A model version stores a :class:`ReferenceProfile` fitted on its training data
(:func:`fit_reference`). Windows of the prediction log are profiled against it
(:func:`profile_window`); window profiles merge by addition (hourly profiles add up to a
day exactly). :func:`compare` tests each column for drift, significance and effect size
together, with the false-discovery rate controlled across columns; :func:`data_quality`
checks nulls, ranges, unseen categories, schema breaks, validator flags and score drift.

>>> import numpy as np, pyarrow as pa
>>> rng = np.random.default_rng(0)
>>> train = pa.table({"income": rng.lognormal(10, 1, 50_000),
...                   "plan": rng.choice(["a", "b"], 50_000)})
>>> reference = fit_reference(train)
>>> hours = [profile_window(pa.table({"income": rng.lognormal(10.3, 1, 2_000),
...                                   "plan": rng.choice(["a", "b"], 2_000)}), reference)
...          for _ in range(3)]
>>> report = compare(reference, merge_profiles(hours))
>>> report.drifted_columns, report.column("plan").drifted
(('income',), False)
"""

from forgeml.monitor.categorical import CategoryBins, CategoryProfile
from forgeml.monitor.drift import ColumnDrift, DriftReport, compare
from forgeml.monitor.numeric import NumericBins, NumericProfile
from forgeml.monitor.profile import WindowProfile, merge_profiles, profile_window
from forgeml.monitor.quality import ColumnQuality, QualityReport, data_quality
from forgeml.monitor.reference import ColumnReference, ReferenceProfile, fit_reference

__all__ = [
    "CategoryBins",
    "CategoryProfile",
    "ColumnDrift",
    "ColumnQuality",
    "ColumnReference",
    "DriftReport",
    "NumericBins",
    "NumericProfile",
    "QualityReport",
    "ReferenceProfile",
    "WindowProfile",
    "compare",
    "data_quality",
    "fit_reference",
    "merge_profiles",
    "profile_window",
]

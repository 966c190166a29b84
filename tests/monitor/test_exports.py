"""The public surface of forgeml.monitor is deliberate."""

from __future__ import annotations

import forgeml.monitor as monitor
from forgeml.monitor._columns import INPUT_KEY
from forgeml.serve import logschema


def test_exports_are_exactly_the_public_api() -> None:
    assert sorted(monitor.__all__) == sorted(
        [
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
    )
    for name in monitor.__all__:
        assert getattr(monitor, name).__module__.startswith("forgeml.monitor.")


def test_the_prediction_log_key_for_inputs_is_the_servers() -> None:
    assert INPUT_KEY == logschema.INPUT_KEY

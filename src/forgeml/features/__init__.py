"""Preprocessing that ships with every model: fitted once, saved as JSON, applied anywhere.

:class:`FeaturePipeline` turns a dataset's columns into a float64 matrix according to the
schema's kinds and a strategy (``"tree"`` for gradient-boosted trees, ``"linear"`` for
linear models). The fitted pipeline is a plain JSON object, safe to load, and serving
applies it to records with NumPy alone.

>>> from forgeml.features import FeaturePipeline
>>> schema = {"columns": [{"name": "plan", "kind": "category"}]}
>>> pipe = FeaturePipeline.fit({"plan": ["pro", "free", "pro"]}, schema,
...                            target=None, strategy="linear")
>>> pipe.feature_names
['plan=pro', 'plan=free']
>>> pipe.transform_records([{"plan": "free"}, {"plan": "gold"}]).tolist()
[[0.0, 1.0], [0.0, 0.0]]
"""

from forgeml.features.encoders import Strategy
from forgeml.features.pipeline import FeaturePipeline

__all__ = ["FeaturePipeline", "Strategy"]

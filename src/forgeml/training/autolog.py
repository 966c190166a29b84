"""Autologging into a run from the user's own training code.

* :func:`log_fitted`: a fitted model's hyperparameters and the training curves its library
  recorded (LightGBM's ``evals_result_``, XGBoost's ``evals_result()``, a Keras
  ``History``), called by :func:`forgeml.log_model` when it is given an open run;
* :func:`keras_callback`: a Keras callback logging the ``fit`` settings and each epoch's
  metrics as they happen;
* :class:`TorchLog`: a small hook for a PyTorch loop: the module and optimizer settings
  once, then ``log.epoch(step, loss=..., accuracy=...)`` per epoch.

>>> from sklearn.linear_model import LogisticRegression
>>> model_params(LogisticRegression(C=0.5), "sklearn")["model.C"]
0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["TorchLog", "curves", "keras_callback", "log_fitted", "model_params"]

_PLAIN = (str, int, float, bool, type(None))


def model_params(model: Any, flavor: str) -> dict[str, Any]:
    """``model.<name>`` -> value for the model's hyperparameters (JSON values only)."""
    found: dict[str, Any] = {"model.class": f"{type(model).__module__}.{type(model).__qualname__}"}
    raw: Mapping[str, Any] = {}
    if flavor in ("sklearn", "lightgbm", "xgboost") and hasattr(model, "get_params"):
        raw = model.get_params(deep=False)
    elif flavor == "lightgbm":
        raw = getattr(model, "params", {}) or {}
    elif flavor == "torch":
        raw = {"parameters": sum(p.numel() for p in model.parameters())}
    elif flavor == "keras":
        raw = {"parameters": int(model.count_params()), "layers": len(model.layers)}
    for key, value in raw.items():
        if isinstance(value, _PLAIN):
            found[f"model.{key}"] = value
        else:  # an estimator inside a pipeline, a callable: its kind, never its code
            found[f"model.{key}"] = type(value).__qualname__
    return found


def curves(model: Any, flavor: str) -> dict[str, list[float]]:
    """Per metric, the values the library recorded while training (one per iteration)."""
    recorded: Any = None
    if flavor == "lightgbm":
        recorded = getattr(model, "evals_result_", None)
    elif flavor == "xgboost" and hasattr(model, "evals_result"):
        try:
            recorded = model.evals_result()
        except Exception:  # XGBoost raises when fit had no eval_set
            recorded = None
    elif flavor == "keras":
        history = getattr(model, "history", None)
        recorded = {"": getattr(history, "history", None) or {}}
    found: dict[str, list[float]] = {}
    for data_name, metrics in (recorded or {}).items():
        for metric, values in dict(metrics).items():
            key = f"{data_name}/{metric}" if data_name else str(metric)
            found[key] = [float(v) for v in values]
    return found


def log_fitted(run: Any, model: Any, flavor: str) -> None:
    """Record ``model``'s hyperparameters and training curves in an open ``run``."""
    run.log_params(model_params(model, flavor))
    for key, values in curves(model, flavor).items():
        for step, value in enumerate(values):
            run.log_metric(key, value, step=step)


def keras_callback(run: Any) -> Any:
    """A ``keras.callbacks.Callback`` that logs ``fit``'s settings and each epoch's metrics."""
    from forgeml.flavors.keras_flavor import use_backend

    use_backend()
    import keras

    class ForgemlCallback(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            settings = {f"fit.{k}": v for k, v in self.params.items() if isinstance(v, _PLAIN)}
            optimizer = getattr(self.model, "optimizer", None)
            if optimizer is not None:
                settings["fit.optimizer"] = type(optimizer).__name__
                rate = getattr(optimizer, "learning_rate", None)
                if rate is not None:
                    settings["fit.learning_rate"] = float(keras.ops.convert_to_numpy(rate))
            run.log_params(settings)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            run.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch)

    return ForgemlCallback()


class TorchLog:
    """Log a PyTorch training loop: settings once, then one point per metric per epoch.

    >>> class Run:
    ...     def log_params(self, p): print(p['optimizer.class'], p['optimizer.lr'], p['fit.epochs'])
    ...     def log_metrics(self, m, step): print(step, m)
    >>> import torch
    >>> net = torch.nn.Linear(2, 1)
    >>> log = TorchLog(Run(), net, torch.optim.SGD(net.parameters(), lr=0.1), epochs=2)
    SGD 0.1 2
    >>> log.epoch(0, loss=0.5)
    0 {'loss': 0.5}
    """

    def __init__(self, run: Any, model: Any, optimizer: Any = None, **settings: Any) -> None:
        self.run = run
        params = model_params(model, "torch")
        params.update({f"fit.{k}": v for k, v in settings.items() if isinstance(v, _PLAIN)})
        if optimizer is not None:
            params["optimizer.class"] = type(optimizer).__name__
            group = optimizer.param_groups[0] if optimizer.param_groups else {}
            params.update(
                {
                    f"optimizer.{k}": v
                    for k, v in group.items()
                    if k in ("lr", "momentum", "weight_decay") and isinstance(v, _PLAIN)
                }
            )
        run.log_params(params)

    def epoch(self, step: int, **metrics: float) -> None:
        """Record this epoch's metrics (loss, accuracy, ...) at ``step``."""
        self.run.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

"""The ``mlp`` candidate: a PyTorch multilayer perceptron for tables, opt-in.

``train.candidates: [..., mlp]`` adds it to the search (it needs ``forgeml[torch]``). It
reads the same preprocessed matrix as the tree candidates (numbers as they are, a
categorical column as its category's code) and does the rest itself, inside the network
that is stored (:class:`forgeml.flavors.nets.TabularNet`): numbers standardised with the
training rows' statistics, missing numbers flagged, one embedding per categorical column.

Training is mini-batch AdamW, with early stopping on the validation rows' loss: it keeps
the weights of the best epoch, and stops after ``PATIENCE`` epochs without improvement or
``MAX_EPOCHS``. Past the trial's deadline it stops between batches and keeps the best
weights it had. The same seed gives the same network. The refit on training and
validation rows trains for the epochs early stopping chose. The model is stored with the
``torch`` flavor: safetensors weights and a JSON architecture, never a pickle.

>>> batch_size(1_000), batch_size(10_000), batch_size(1_000_000)
(32, 256, 1024)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from forgeml.errors import ConfigError
from forgeml.training.deadline import passed

if TYPE_CHECKING:
    from forgeml.features import FeaturePipeline
    from forgeml.training.candidates import Fitted

__all__ = [
    "MAX_EPOCHS",
    "PATIENCE",
    "Layout",
    "batch_size",
    "build_mlp",
    "fit_mlp",
    "refit_mlp",
    "suggest_mlp",
]

MAX_EPOCHS = 200
PATIENCE = 10  # epochs without a better validation loss before training stops
Params = dict[str, Any]


@dataclass(frozen=True)
class Layout:
    """Which columns of the feature matrix are numbers and which are category codes.

    ``cardinalities[i]`` is how many codes the categorical column ``categorical[i]`` has
    (its kept categories and the "other" code).
    """

    numeric: list[int]
    categorical: list[int]
    cardinalities: list[int]

    @classmethod
    def of(cls, pipeline: FeaturePipeline | None, width: int) -> Layout:
        """The layout of ``pipeline``'s matrix (``width`` columns, all numbers without one).

        >>> from forgeml.features import FeaturePipeline
        >>> schema = {"columns": [{"name": "n", "kind": "float"},
        ...                       {"name": "plan", "kind": "category"}]}
        >>> pipe = FeaturePipeline.fit({"n": [1.0, 2.0], "plan": ["a", "b"]}, schema,
        ...                            target=None, strategy="tree")
        >>> Layout.of(pipe, 2)
        Layout(numeric=[0], categorical=[1], cardinalities=[3])
        """
        from forgeml.features.categories import CategoryEncoder

        if pipeline is None:
            return cls(list(range(width)), [], [])
        numeric: list[int] = []
        categorical: list[int] = []
        cardinalities: list[int] = []
        for encoder, where in pipeline.steps:
            if isinstance(encoder, CategoryEncoder) and encoder.encoding == "ordinal":
                categorical.append(where.start)
                cardinalities.append(len(encoder.categories) + 1)  # + the "other" code
            else:
                numeric.extend(range(where.start, where.stop))
        return cls(numeric, categorical, cardinalities)


def batch_size(rows: int) -> int:
    """About 50 steps an epoch: 32 rows a batch on small tables, up to 1024 on large ones."""
    return int(np.clip(2 ** round(math.log2(max(rows, 1) / 50)), 32, 1024))


def suggest_mlp(trial: Any, task: str) -> Params:
    """The search space: width and depth, dropout, learning rate and weight decay."""
    return {
        "width": trial.suggest_categorical("width", [64, 128, 256]),
        "layers": trial.suggest_int("layers", 1, 3),
        "dropout": trial.suggest_float("dropout", 0.0, 0.4),
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
    }


def build_mlp(task: str, params: Params, seed: int, class_weight: Any) -> Any:
    """Refused: the network's shape depends on the data, so fitting builds it."""
    raise ConfigError(
        "the mlp candidate's network is built from the data it is fitted on",
        fix="fit it with candidate('mlp').fit(...), which builds and trains it",
    )


def fit_mlp(
    task: str,
    params: Params,
    seed: int,
    class_weight: Any,
    x: np.ndarray,
    y: np.ndarray,
    x_valid: np.ndarray | None = None,
    y_valid: np.ndarray | None = None,
    *,
    deadline: float | None = None,
    pipeline: FeaturePipeline | None = None,
    epochs: int | None = None,
) -> Fitted:
    """A :class:`~forgeml.flavors.nets.TabularNet` fitted on ``(x, y)``.

    With validation rows it stops early on their loss and keeps the best epoch's weights
    (``best_iteration`` is that epoch, ``valid_scores`` its scores there); ``epochs``
    trains for exactly that many epochs instead (the refit). ``pipeline`` is the
    preprocessing that made ``x``: it tells category codes from numbers.
    """
    import torch

    from forgeml.training.candidates import _threads
    from forgeml.training.fitting import training_threads

    layout = Layout.of(pipeline, x.shape[1])
    classes = _class_count(task, y, y_valid)
    threads = torch.get_num_threads()
    # As the other candidates: one thread on small data, else the caller's limit. Threads
    # that spin waiting for each other slow small networks down many times over.
    torch.set_num_threads(min(_threads(), training_threads(len(x))))
    try:
        return _fit(
            task,
            params,
            seed,
            class_weight,
            x,
            y,
            x_valid,
            y_valid,
            layout,
            classes,
            deadline,
            epochs,
        )
    finally:
        torch.set_num_threads(threads)


def _fit(
    task: str,
    params: Params,
    seed: int,
    class_weight: Any,
    x: np.ndarray,
    y: np.ndarray,
    x_valid: np.ndarray | None,
    y_valid: np.ndarray | None,
    layout: Layout,
    classes: int,
    deadline: float | None,
    epochs: int | None,
) -> Fitted:
    import torch

    from forgeml.flavors.nets import TabularNet
    from forgeml.training.candidates import Fitted

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        numbers = x[:, layout.numeric]
        flagged = [i for i in range(numbers.shape[1]) if not np.isfinite(numbers[:, i]).all()]
        net = TabularNet(
            layout.numeric,
            layout.categorical,
            layout.cardinalities,
            outputs=1 if task != "multiclass" else classes,
            task=task,
            hidden=[int(params.get("width", 128))] * int(params.get("layers", 2)),
            dropout=float(params.get("dropout", 0.1)),
            flagged=flagged,
        )
        _set_statistics(net, numbers, y if task == "regression" else None)
        loss = _loss(task, classes, y, class_weight)
        training = _Training(net, loss, params, x, y, seed)
        best = training.run(x_valid, y_valid, deadline, epochs)
    net.load_state_dict(best.state)
    net.eval()
    scores = network_scores(net, x_valid) if x_valid is not None else None
    return Fitted(net, params, best.epoch, scores, best.stopped)


def refit_mlp(
    fitted: Fitted,
    *,
    task: str,
    seed: int,
    class_weight: Any,
    x: np.ndarray,
    y: np.ndarray,
    deadline: float | None,
    pipeline: FeaturePipeline | None = None,
) -> Fitted:
    """The search's network configuration fitted again on all of ``(x, y)``, for the
    epochs early stopping chose; past ``deadline`` it keeps the epochs it has trained."""
    epochs = max(1, fitted.best_iteration or 1)
    return fit_mlp(
        task,
        fitted.params,
        seed,
        class_weight,
        x,
        y,
        deadline=deadline,
        pipeline=pipeline,
        epochs=epochs,
    )


@dataclass
class _Best:
    state: dict[str, Any]
    epoch: int
    stopped: bool


class _Training:
    """Mini-batch AdamW over shuffled rows, seeded."""

    def __init__(
        self, net: Any, loss: Callable[..., Any], params: Params, x: np.ndarray, y: Any, seed: int
    ) -> None:
        import torch

        self.net, self.loss = net, loss
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        self.y = _target(y, net.task, net)
        self.batch = int(params.get("batch_size", batch_size(len(x))))
        self.optimizer = torch.optim.AdamW(
            net.parameters(),
            lr=float(params.get("learning_rate", 1e-3)),
            weight_decay=float(params.get("weight_decay", 1e-4)),
        )
        self.order = torch.Generator().manual_seed(seed)

    def run(
        self,
        x_valid: np.ndarray | None,
        y_valid: np.ndarray | None,
        deadline: float | None,
        epochs: int | None,
    ) -> _Best:
        import torch

        valid = None
        if x_valid is not None and y_valid is not None and epochs is None:
            valid = (
                torch.from_numpy(np.ascontiguousarray(x_valid, dtype=np.float32)),
                _target(y_valid, self.net.task, self.net),
            )
        best = _Best(_copy(self.net), 0, False)
        best_loss = math.inf
        for epoch in range(1, (epochs or MAX_EPOCHS) + 1):
            if not self._epoch(deadline):
                best.stopped = True
                if valid is None and epoch > 1:  # no rows to choose on: the last epoch done
                    best.state, best.epoch = _copy(self.net), epoch - 1
                break
            if valid is None:
                best.state, best.epoch = _copy(self.net), epoch
                continue
            self.net.eval()
            with torch.inference_mode():
                value = float(self.loss(self.net.logits(valid[0]), valid[1]).mean())
            if value < best_loss - 1e-6:
                best_loss = value
                best.state, best.epoch = _copy(self.net), epoch
            elif epoch - best.epoch >= PATIENCE:
                break
        if best.epoch == 0:  # not one epoch within the deadline: the weights it had
            best.state, best.epoch = _copy(self.net), 1
        return best

    def _epoch(self, deadline: float | None) -> bool:
        """One pass over the shuffled rows; False when the deadline ended it early."""
        import torch

        self.net.train()
        order = torch.randperm(len(self.x), generator=self.order)
        for start in range(0, len(order), self.batch):
            if deadline is not None and passed(deadline):
                return False
            rows = order[start : start + self.batch]
            self.optimizer.zero_grad(set_to_none=True)
            value = self.loss(self.net.logits(self.x[rows]), self.y[rows]).mean()
            value.backward()
            self.optimizer.step()
        return True


def _class_count(task: str, y: np.ndarray, y_valid: np.ndarray | None) -> int:
    if task == "regression":
        return 0
    top = int(np.max(y)) if len(y) else 0
    if y_valid is not None and len(y_valid):
        top = max(top, int(np.max(y_valid)))
    return max(2, top + 1)


def _set_statistics(net: Any, numbers: np.ndarray, y: np.ndarray | None) -> None:
    """The training rows' means and standard deviations, into the network's buffers."""
    import torch

    finite = np.where(np.isfinite(numbers), numbers, np.nan)
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(finite, axis=0)) if finite.size else np.zeros(0)
        std = np.nan_to_num(np.nanstd(finite, axis=0)) if finite.size else np.zeros(0)
    std = np.where(std > 1e-12, std, 1.0)
    net.mean.copy_(torch.from_numpy(mean.astype(np.float32)))
    net.scale.copy_(torch.from_numpy(std.astype(np.float32)))
    if y is not None:
        target = np.asarray(y, dtype=np.float64)
        spread = float(target.std()) if len(target) else 1.0
        net.target_mean.fill_(float(target.mean()) if len(target) else 0.0)
        net.target_scale.fill_(spread if spread > 1e-12 else 1.0)


def _target(y: np.ndarray, task: str, net: Any) -> Any:
    """The target as training compares it to the logits."""
    import torch

    if task == "multiclass":
        return torch.from_numpy(np.asarray(y, dtype=np.int64))
    values = torch.from_numpy(np.asarray(y, dtype=np.float32)).reshape(-1, 1)
    if task == "regression":
        return (values - net.target_mean) / net.target_scale
    return values


def _loss(task: str, classes: int, y: np.ndarray, class_weight: Any) -> Callable[..., Any]:
    """Per-row losses: mean squared error on z-scores, or (weighted) cross-entropy."""
    import torch
    from torch import nn

    if task == "regression":
        return nn.MSELoss(reduction="none")
    weights = None
    if class_weight == "balanced":
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=classes).astype(np.float64)
        weights = torch.from_numpy(
            (len(y) / (classes * np.maximum(counts, 1.0))).astype(np.float32)
        )
    if task == "binary":
        if weights is None:
            return nn.BCEWithLogitsLoss(reduction="none")
        pos_weight = weights[1] / weights[0]
        unweighted = nn.BCEWithLogitsLoss(reduction="none", pos_weight=pos_weight)
        negative = weights[0]
        return lambda logits, target: unweighted(logits, target) * negative
    return nn.CrossEntropyLoss(weight=weights, reduction="none")


def _copy(net: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def network_scores(net: Any, x: np.ndarray) -> np.ndarray:
    """The network's scores as forgeml's: probability, class probabilities or values."""
    from forgeml.flavors.torch_flavor import predict
    from forgeml.training.predict import task_scores

    return task_scores(predict(net, x), net.task, None)

"""Candidate models: how each is built, which preprocessing it wants, what the search tunes.

Built-in names are ``logistic`` (linear/logistic regression), ``hist_gradient_boosting``,
``lightgbm``, ``xgboost``, ``extra_trees`` (scikit-learn's extremely randomised trees) and
``mlp`` (a PyTorch network, see :mod:`forgeml.training.mlp`; it needs ``forgeml[torch]``).
Any estimator with the scikit-learn interface can be named by import path,
``package.module:ClassName``; it gets imputed, scaled features.

>>> c = candidate("lightgbm")
>>> c.strategy, c.flavor
('tree', 'lightgbm')
>>> et = candidate("extra_trees")
>>> et.strategy, et.flavor, et.build("binary", {}, 0, "balanced").get_params()["max_features"]
('tree', 'sklearn', 'sqrt')
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from forgeml.errors import ConfigError
from forgeml.flavors import NEURAL, require
from forgeml.training.deadline import fit_forest_until, fit_hgb_until, xgboost_deadline
from forgeml.training.lgbm import EARLY_STOPPING_ROUNDS, fit_with_validation_scores
from forgeml.training.mlp import build_mlp, fit_mlp, suggest_mlp

if TYPE_CHECKING:
    from forgeml.features import FeaturePipeline

__all__ = ["BUILTIN", "Candidate", "Fitted", "balanced_weights", "candidate", "fit_forest_until"]

Strategy = Literal["tree", "linear"]
Flavor = Literal["lightgbm", "xgboost", "sklearn", "torch"]
Params = dict[str, Any]
MAX_TREES = 2000
FOREST_TREES = 300  # extra_trees' trees: averaged, not boosted, so no early stopping


@dataclass(frozen=True)
class Fitted:
    """A fitted estimator and what it was fitted with.

    ``valid_scores`` are its predictions on the validation rows when fitting produced them
    anyway (LightGBM's early stopping), else None. ``stopped`` is True when the deadline
    ended its training early: the model has the trees it had grown by then.
    """

    estimator: Any
    params: Params
    best_iteration: int | None = None
    valid_scores: np.ndarray | None = None
    stopped: bool = False


@dataclass(frozen=True)
class Candidate:
    """One kind of model: its preprocessing strategy, persistence flavor and search space."""

    name: str
    strategy: Strategy
    flavor: Flavor
    suggest: Callable[[Any, str], Params]  # (optuna trial, task) -> params
    defaults: Params
    build: Callable[[str, Params, int, Any], Any]  # task, params, seed, class_weight -> estimator
    # Known-good configurations, tried right after the defaults: one with smaller trees
    # and more regularisation (small or noisy tables), one with more capacity.
    warm_starts: tuple[Params, ...] = ()

    def fit(
        self,
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
    ) -> Fitted:
        """Fit on ``(x, y)``, early stopping on the validation rows where the model can.

        ``deadline`` (a :func:`time.monotonic` time) ends the boosted trees' training once
        it has passed, keeping the trees grown so far (see :mod:`forgeml.training.deadline`);
        ``extra_trees`` is grown in steps and keeps the trees it has (see
        :func:`fit_forest_until`); logistic regression and user estimators fit to the end
        regardless. ``mlp`` stops between batches and reads ``pipeline`` (the preprocessing
        that made ``x``) to tell category codes from numbers.
        """
        if self.name == "mlp":
            return fit_mlp(
                task,
                params,
                seed,
                class_weight,
                x,
                y,
                x_valid,
                y_valid,
                deadline=deadline,
                pipeline=pipeline,
            )
        estimator = self.build(task, params, seed, class_weight)
        if self.name == "lightgbm" and x_valid is not None and y_valid is not None:
            patience = int(params.get("early_stopping_rounds", EARLY_STOPPING_ROUNDS))
            fit = fit_with_validation_scores(
                estimator, x, y, x_valid, y_valid, deadline=deadline, patience=patience
            )
            return Fitted(estimator, params, fit.best_iteration, fit.scores, fit.stopped)
        if self.name == "xgboost" and x_valid is not None:
            clock = xgboost_deadline(deadline) if deadline is not None else None
            estimator.set_params(
                early_stopping_rounds=EARLY_STOPPING_ROUNDS, callbacks=[clock] if clock else None
            )
            # XGBoost has no class_weight: balanced classes become per-row weights.
            weights = balanced_weights(y) if class_weight == "balanced" else None
            try:
                estimator.fit(
                    x, y, sample_weight=weights, eval_set=[(x_valid, y_valid)], verbose=False
                )
            finally:
                estimator.callbacks = None  # the model does not keep the clock
            stopped = bool(clock and clock.stopped)
            return Fitted(estimator, params, int(estimator.best_iteration) + 1, stopped=stopped)
        if self.name == "hist_gradient_boosting" and deadline is not None:
            return Fitted(estimator, params, stopped=fit_hgb_until(estimator, x, y, deadline))
        if self.name == "extra_trees" and deadline is not None:
            return Fitted(estimator, params, stopped=fit_forest_until(estimator, x, y, deadline))
        estimator.fit(x, y)
        return Fitted(estimator, params)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights n / (k * count(class)), as scikit-learn's class_weight='balanced'."""
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    weights: np.ndarray = (len(y) / (len(classes) * counts))[inverse]
    return weights


def _logistic(task: str, params: Params, seed: int, class_weight: Any) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "regression":
        return Ridge(alpha=params.get("alpha", 1.0), random_state=seed)
    return LogisticRegression(
        C=params.get("C", 1.0), class_weight=class_weight, max_iter=2000, random_state=seed
    )


def _suggest_logistic(trial: Any, task: str) -> Params:
    if task == "regression":
        return {"alpha": trial.suggest_float("alpha", 1e-3, 1e2, log=True)}
    return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}


def _hgb(task: str, params: Params, seed: int, class_weight: Any) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    common = {
        "learning_rate": params.get("learning_rate", 0.1),
        "max_leaf_nodes": params.get("max_leaf_nodes", 31),
        "min_samples_leaf": params.get("min_samples_leaf", 20),
        "l2_regularization": params.get("l2_regularization", 0.0),
        "max_iter": params.get("max_iter", 300),
        "early_stopping": True,
        "random_state": seed,
    }
    if task == "regression":
        return HistGradientBoostingRegressor(**common)
    return HistGradientBoostingClassifier(class_weight=class_weight, **common)


def _suggest_hgb(trial: Any, task: str) -> Params:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 128, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 200, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
    }


def _lightgbm(task: str, params: Params, seed: int, class_weight: Any) -> Any:
    import lightgbm

    common = {
        "n_estimators": params.get("n_estimators", MAX_TREES),
        "learning_rate": params.get("learning_rate", 0.05),
        "num_leaves": params.get("num_leaves", 31),
        "min_child_samples": params.get("min_child_samples", 20),
        "subsample": params.get("subsample", 1.0),
        "subsample_freq": 1 if params.get("subsample", 1.0) < 1.0 else 0,
        "colsample_bytree": params.get("colsample_bytree", 1.0),
        "reg_lambda": params.get("reg_lambda", 0.0),
        "random_state": seed,
        "deterministic": True,
        "force_row_wise": True,
        "n_jobs": params.get("n_jobs", _threads()),
        "verbose": -1,
    }
    if "objective" in params:  # e.g. poisson for a count target (see training/objectives.py)
        common["objective"] = params["objective"]
    if task == "regression":
        return lightgbm.LGBMRegressor(**common)
    return lightgbm.LGBMClassifier(class_weight=class_weight, **common)


def _suggest_lightgbm(trial: Any, task: str) -> Params:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-6, 10.0, log=True),
    }


def _xgboost(task: str, params: Params, seed: int, class_weight: Any) -> Any:
    import xgboost

    common = {
        "n_estimators": params.get("n_estimators", MAX_TREES),
        "learning_rate": params.get("learning_rate", 0.05),
        "max_depth": params.get("max_depth", 6),
        "min_child_weight": params.get("min_child_weight", 1.0),
        "subsample": params.get("subsample", 1.0),
        "colsample_bytree": params.get("colsample_bytree", 1.0),
        "reg_lambda": params.get("reg_lambda", 1.0),
        "tree_method": "hist",
        "random_state": seed,
        "n_jobs": params.get("n_jobs", _threads()),
    }
    if task == "regression":
        return xgboost.XGBRegressor(**common)
    return xgboost.XGBClassifier(**common)


def _suggest_xgboost(trial: Any, task: str) -> Params:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 10),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _extra_trees(task: str, params: Params, seed: int, class_weight: Any) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    regression = task == "regression"
    common = {
        "n_estimators": params.get("n_estimators", FOREST_TREES),
        # sklearn's defaults: sqrt(features) per split to classify, all of them to regress
        "max_features": params.get("max_features", 1.0 if regression else "sqrt"),
        # 5 to regress (Breiman's, and R randomForest's, nodesize): a regression tree grown
        # to single rows has as many leaves as rows, and 300 of them make a huge model
        "min_samples_leaf": params.get("min_samples_leaf", 5 if regression else 1),
        "random_state": seed,
        "n_jobs": params.get("n_jobs", _threads()),
    }
    if regression:
        return ExtraTreesRegressor(**common)
    return ExtraTreesClassifier(
        criterion=params.get("criterion", "gini"), class_weight=class_weight, **common
    )


def _suggest_extra_trees(trial: Any, task: str) -> Params:
    params: Params = {
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 50, log=True),
    }
    if task != "regression":
        params["criterion"] = trial.suggest_categorical("criterion", ["gini", "entropy"])
    return params


def _threads() -> int:
    """The thread count the caller allows (threadpoolctl's OpenMP limit), else every core."""
    from threadpoolctl import threadpool_info

    limits = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "openmp"]
    return max(1, min(limits)) if limits else max(1, os.cpu_count() or 1)


BUILTIN: dict[str, Candidate] = {
    "logistic": Candidate("logistic", "linear", "sklearn", _suggest_logistic, {}, _logistic),
    "hist_gradient_boosting": Candidate(
        "hist_gradient_boosting",
        "tree",
        "sklearn",
        _suggest_hgb,
        {},
        _hgb,
        (
            {
                "learning_rate": 0.05,
                "max_leaf_nodes": 15,
                "min_samples_leaf": 10,
                "l2_regularization": 1.0,
            },
        ),
    ),
    "lightgbm": Candidate(
        "lightgbm",
        "tree",
        "lightgbm",
        _suggest_lightgbm,
        {},
        _lightgbm,
        (
            {
                "learning_rate": 0.03,
                "num_leaves": 8,
                "min_child_samples": 10,
                "subsample": 0.8,
                "colsample_bytree": 0.7,
                "reg_lambda": 1.0,
            },
            {
                "learning_rate": 0.03,
                "num_leaves": 63,
                "min_child_samples": 20,
                "subsample": 0.8,
                "colsample_bytree": 0.7,
                "reg_lambda": 1.0,
            },
        ),
    ),
    "xgboost": Candidate(
        "xgboost",
        "tree",
        "xgboost",
        _suggest_xgboost,
        {},
        _xgboost,
        (
            {
                "learning_rate": 0.03,
                "max_depth": 4,
                "min_child_weight": 2.0,
                "subsample": 0.8,
                "colsample_bytree": 0.7,
                "reg_lambda": 1.0,
            },
        ),
    ),
    "extra_trees": Candidate(
        "extra_trees", "tree", "sklearn", _suggest_extra_trees, {}, _extra_trees
    ),
    "mlp": Candidate("mlp", "tree", "torch", suggest_mlp, {}, build_mlp),
}


def candidate(name: str) -> Candidate:
    """The built-in candidate ``name``, or a user estimator given as ``module:Class``."""
    if name in BUILTIN:
        if BUILTIN[name].flavor in NEURAL:
            require(BUILTIN[name].flavor, f"The {name} candidate")
        return BUILTIN[name]
    if ":" not in name:
        raise ConfigError(
            f"unknown candidate {name!r}",
            fix="use one of " + ", ".join(BUILTIN) + ", or an import path 'package.module:Class'",
        )
    module_name, _, class_name = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"cannot import candidate {name!r}: {e}",
            fix="check the module is installed and the class name is right",
        ) from e
    if not (hasattr(cls, "fit") and hasattr(cls, "predict")):
        raise ConfigError(
            f"candidate {name!r} has no fit/predict methods",
            fix="name a class with the scikit-learn estimator interface",
        )

    accepted = inspect.signature(cls).parameters

    def build(task: str, params: Params, seed: int, class_weight: Any) -> Any:
        options = dict(params)
        if "random_state" in accepted:  # reproducible like the built-in candidates
            options.setdefault("random_state", seed)
        if "class_weight" in accepted and class_weight is not None:
            options.setdefault("class_weight", class_weight)
        return cls(**options)

    return Candidate(name, "linear", "sklearn", lambda _trial, _task: {}, {}, build)

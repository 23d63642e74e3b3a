"""kumoai's ``ModelPlan``: how to train, in kumoai's sections, holding relpredict's settings."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from relpredict.errors import ConfigError
from relpredict.kumoai._session import unsupported
from relpredict.model.gnn_config import GNNConfig

__all__ = ["ModelArchitecturePlan", "ModelPlan", "NeighborSamplingPlan", "OptimizationPlan", "TrainingJobPlan"]


class _Section:
    """A part of a model plan: only the attributes relpredict uses can be set."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in {f.name for f in fields(self)}:  # type: ignore[arg-type]
            unsupported(f"the model plan setting {type(self).__name__}.{name}",
                        f"relpredict's are {', '.join(f.name for f in fields(self))}")  # type: ignore[arg-type]
        object.__setattr__(self, name, value)


@dataclass
class TrainingJobPlan(_Section):
    seed: int = 0
    max_eval: int = 40  # validation / test anchors, at most
    val_start: datetime | None = None
    test_start: datetime | None = None


@dataclass
class OptimizationPlan(_Section):
    max_epochs: int = GNNConfig.max_epochs
    max_steps_per_epoch: int = GNNConfig.max_steps_per_epoch
    batch_size: int = GNNConfig.batch_size
    base_lr: float = GNNConfig.lr
    weight_decay: float = GNNConfig.weight_decay
    early_stopping_patience: int = GNNConfig.patience


@dataclass
class NeighborSamplingPlan(_Section):
    num_neighbors: list[int] = field(default_factory=lambda: list(GNNConfig.fanout))


@dataclass
class ModelArchitecturePlan(_Section):
    channels: int = GNNConfig.channels
    dropout: float = GNNConfig.dropout
    model: str = "auto"  # relpredict's learners: auto (GNN + LightGBM, blended), gnn, lightgbm


@dataclass
class ModelPlan(_Section):
    """How to train (kumoai ``ModelPlan``), in the sections kumoai has, holding relpredict's own
    settings. ``run_mode``: ``fast`` trains LightGBM on automatic features only, ``normal`` the
    default blend of the GNN and LightGBM, ``best`` the blend with twice the GNN epochs."""

    run_mode: str = "normal"
    training_job: TrainingJobPlan = field(default_factory=TrainingJobPlan)
    optimization: OptimizationPlan = field(default_factory=OptimizationPlan)
    neighbor_sampling: NeighborSamplingPlan = field(default_factory=NeighborSamplingPlan)
    model_architecture: ModelArchitecturePlan = field(default_factory=ModelArchitecturePlan)

    @classmethod
    def for_run_mode(cls, run_mode: str = "normal") -> ModelPlan:
        mode = str(getattr(run_mode, "value", run_mode)).lower()
        if mode not in ("fast", "normal", "best", "debug"):
            raise ConfigError(f"Unknown run mode {run_mode!r}: fast, normal or best.")
        plan = cls(run_mode=mode)
        if mode in ("fast", "debug"):
            plan.model_architecture.model = "lightgbm"
        if mode == "best":
            plan.optimization.max_epochs = 2 * GNNConfig.max_epochs
        return plan

    def options(self) -> Any:
        """relpredict's :class:`~relpredict.model.fit.TrainOptions` for this plan."""
        from relpredict.model.fit import TrainOptions

        o, a = self.optimization, self.model_architecture
        gnn = replace(GNNConfig(), channels=a.channels, dropout=a.dropout, lr=o.base_lr,
                      weight_decay=o.weight_decay, batch_size=o.batch_size, max_epochs=o.max_epochs,
                      patience=o.early_stopping_patience, max_steps_per_epoch=o.max_steps_per_epoch,
                      fanout=tuple(self.neighbor_sampling.num_neighbors))
        t = self.training_job
        return TrainOptions(kind=a.model, seed=t.seed, gnn=gnn, val_start=t.val_start,
                            test_start=t.test_start, max_eval=t.max_eval)

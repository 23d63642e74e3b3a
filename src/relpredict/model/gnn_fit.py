"""Training and inference loops of the relational GNN.

A :class:`Seeds` batch holds what the model sees per example: the entity's node position, the
anchor time (seconds) and the seed feature vector. Training shuffles examples with a seeded
generator, samples each batch's subgraphs with the deterministic "last k" sampler, and keeps the
weights of the epoch with the best validation metric (early stopping after ``patience`` epochs
without improvement).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from relpredict.model import metrics
from relpredict.model.gnn import GNNConfig, RelationalGNN
from relpredict.model.sampler import TemporalSampler
from relpredict.model.targets import TargetCodec
from relpredict.query.bound import TaskType

Progress = Callable[[str, int, int], None]


@dataclass
class Seeds:
    """Examples for the GNN: ``node`` ``[N]`` entity positions, ``time`` ``[N]`` seconds,
    ``extra`` ``[N, D]`` seed features, ``y`` encoded targets (None at prediction), ``base``
    ``[N]`` and ``scale`` ``[N]`` the regression frame (the head predicts ``(y - base) / scale``),
    ``recent`` ``[N, I]`` link-prediction recent-item counts."""

    node: Tensor
    time: Tensor
    extra: Tensor
    y: np.ndarray | None = None
    base: np.ndarray | None = None
    recent: Tensor | None = None
    truth: list[list[int]] | None = None  # link prediction: item positions per example
    scale: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.node.numel())

    def take(self, idx: Tensor) -> Seeds:
        sel = idx.numpy()
        return Seeds(self.node[idx], self.time[idx], self.extra[idx],
                     None if self.y is None else self.y[sel],
                     None if self.base is None else self.base[sel],
                     None if self.recent is None else self.recent[idx],
                     None if self.truth is None else [self.truth[i] for i in sel],
                     None if self.scale is None else self.scale[sel])


class GNNTrainer:
    """Owns a :class:`RelationalGNN`, its sampler and its target codec."""

    def __init__(self, model: RelationalGNN, sampler: TemporalSampler, codec: TargetCodec,
                 config: GNNConfig, top_k: int = 10) -> None:
        self.model, self.sampler, self.codec, self.config = model, sampler, codec, config
        self.top_k = top_k

    # -- forward ---------------------------------------------------------------------------
    def forward(self, seeds: Seeds) -> tuple[Tensor, Tensor]:
        """``(embedding [B, E], raw output)``; link prediction's output is ``[B, num_items]``."""
        out = self.sampler.sample(self.model.entity_table, seeds.node, seeds.time, edge_ids=False)
        seed_time = seeds.time
        h, head = self.model(out, seed_time, seeds.extra if seeds.extra.shape[1] else None, len(seeds))
        if self.codec.task is TaskType.link_prediction:
            return h, self.model.item_scores(h, seeds.recent)
        return h, head

    def loss(self, raw: Tensor, seeds: Seeds) -> Tensor:
        task = self.codec.task
        if task is TaskType.binary:
            return F.binary_cross_entropy_with_logits(raw[:, 0], torch.from_numpy(seeds.y).float())
        if task is TaskType.regression:
            target = ((_labels(seeds) - _base(seeds)) / _scale(seeds) - self.codec.mean) / self.codec.std
            return F.huber_loss(raw[:, 0], torch.from_numpy(target).float(), delta=1.0)
        if task is TaskType.multiclass:
            y = torch.from_numpy(seeds.y)
            keep = y >= 0
            return F.cross_entropy(raw[keep], y[keep]) if keep.any() else raw.sum() * 0
        if task is TaskType.multilabel:
            return F.binary_cross_entropy_with_logits(raw, torch.from_numpy(seeds.y).float())
        target = torch.zeros_like(raw)
        for row, items in enumerate(seeds.truth or []):
            target[row, items] = 1.0
        has = target.sum(1) > 0
        logp = torch.log_softmax(raw[has], dim=1)
        return -(logp * target[has]).sum(1).div(target[has].sum(1)).mean()

    # -- outputs ---------------------------------------------------------------------------
    def decode(self, raw: Tensor, seeds: Seeds) -> np.ndarray:
        """Raw output → predictions: probabilities, values, class probabilities or item scores."""
        task = self.codec.task
        raw = raw.detach()
        if task is TaskType.binary:
            return torch.sigmoid(raw[:, 0]).numpy().astype(np.float64)
        if task is TaskType.regression:
            z = raw[:, 0].double().numpy() * self.codec.std + self.codec.mean
            if self.codec.relative:
                z = self.codec.clamp_relative(z)
            return self.codec.clamp(_base(seeds) + _scale(seeds) * z)
        if task is TaskType.multiclass:
            return torch.softmax(raw, 1).double().numpy()
        if task is TaskType.multilabel:
            return torch.sigmoid(raw).double().numpy()
        return raw.double().numpy()

    def predict(self, seeds: Seeds, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """``(embeddings [N, E], predictions)`` in example order, in eval mode."""
        self.model.eval()
        embs, preds = [], []
        with torch.no_grad():
            for start in range(0, len(seeds), batch_size):
                part = seeds.take(torch.arange(start, min(start + batch_size, len(seeds))))
                h, raw = self.forward(part)
                embs.append(h.numpy())
                preds.append(self.decode(raw, part))
        width = self.model.item_id.num_embeddings if self.codec.task is TaskType.link_prediction else None
        if not embs:
            return np.zeros((0, 0), np.float32), np.zeros((0,) if width is None else (0, width))
        return np.concatenate(embs), np.concatenate(preds)

    # -- training --------------------------------------------------------------------------
    def fit(self, train: Seeds, val: Seeds, seed: int, progress: Progress | None = None) -> list[dict[str, Any]]:
        """Train with early stopping on ``val``; returns one record per epoch."""
        cfg = self.config
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        best, best_state, history, waited = None, copy.deepcopy(self.model.state_dict()), [], 0
        steps = min(cfg.max_steps_per_epoch, max(1, -(-len(train) // cfg.batch_size)))
        for epoch in range(cfg.max_epochs):
            self.model.train()
            order = torch.randperm(len(train), generator=gen)
            total = 0.0
            for step in range(steps):
                idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                if idx.numel() == 0:
                    break
                part = train.take(idx)
                _, raw = self.forward(part)
                loss = self.loss(raw, part)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                opt.step()
                total += loss.item()
                if progress:
                    progress(f"epoch {epoch + 1}", step + 1, steps)
            score = self.evaluate(val)
            history.append({"epoch": epoch + 1, "loss": total / steps, "val": score})
            if metrics.better(self.codec.task, score, best):
                best, best_state, waited = score, copy.deepcopy(self.model.state_dict()), 0
            else:
                waited += 1
                if waited >= cfg.patience:
                    break
        self.model.load_state_dict(best_state)
        return history

    def evaluate(self, seeds: Seeds) -> float:
        """The task's selection metric on ``seeds`` (with targets)."""
        _, pred = self.predict(seeds)
        return score_predictions(self.codec, seeds, pred, self.top_k)


def _scale(seeds: Seeds) -> np.ndarray | float:
    return 1.0 if seeds.scale is None else seeds.scale


def _labels(seeds: Seeds) -> np.ndarray:
    """The labels of training or validation seeds (prediction seeds have none)."""
    if seeds.y is None:
        raise ValueError("These seeds carry no labels: only training and validation seeds do.")
    return seeds.y


def _base(seeds: Seeds) -> np.ndarray | float:
    """The regression base of each seed (0 without one)."""
    return 0.0 if seeds.base is None else seeds.base


def score_predictions(codec: TargetCodec, seeds: Seeds, pred: np.ndarray, top_k: int) -> float:
    """The selection metric of :data:`metrics.SELECTION` for decoded predictions."""
    task = codec.task
    if task is TaskType.binary:
        return metrics.auroc(_labels(seeds), pred)
    if task is TaskType.regression:
        return metrics.mae(_labels(seeds), pred)
    if task is TaskType.multiclass:
        return metrics.accuracy(_labels(seeds), pred.argmax(1))
    if task is TaskType.multilabel:
        return metrics.multilabel_f1(_labels(seeds), pred >= 0.5)
    ranked = np.argsort(-pred, axis=1, kind="stable")[:, :top_k]
    return metrics.map_at_k(seeds.truth or [], ranked.tolist(), top_k)

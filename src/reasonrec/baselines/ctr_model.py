"""The part SASRec and Caser share: a sigmoid like-head, BCE training with early stopping on validation AUC.

ReasoningRec (Appendix A.2) replaces the softmax over items of both recommenders with a sigmoid for the binary
like task. Here a sequence encoder turns the history (item id + like/dislike embedding per position) into a
vector h; the head scores MLP([h; e_t; h * e_t]) where e_t is the target item embedding, so the model can use
both "how much does this user like things" (h alone) and "does this history fit this item" (h * e_t).
Training uses the full training target table; the state with the best validation AUC is kept.
"""

from __future__ import annotations

import copy
from typing import ClassVar

import numpy as np
import polars as pl

from reasonrec.auc import rank_auc
from reasonrec.baselines.common import BaselineConfig, TrainData, predictions_frame, torch_determinism
from reasonrec.baselines.ctr_data import CTRArrays, build_item_vocab, tensorise


class CTRConfig(BaselineConfig):
    """Training settings shared by the sequential CTR baselines."""

    max_len: int = 10
    embedding_dim: int = 64
    dropout: float = 0.2
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 128
    max_epochs: int = 50
    patience: int = 5
    threads: int = 1


def _make_head(dim: int, dropout: float):
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(3 * dim, dim), torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(dim, 1)
    )


class SequentialCTR:
    """Base for SASRec/Caser: subclasses provide `build_encoder(n_items) -> nn.Module` whose forward takes
    (hist_items, hist_labels) and returns (B, d) history vectors; the item table is `encoder.item_embedding`."""

    name: ClassVar[str] = "sequential-ctr"
    config_class: ClassVar[type[CTRConfig]] = CTRConfig
    """The subclass's hyper-parameters (a CTRConfig with its encoder's fields); its defaults when none is given."""

    def __init__(self, config: CTRConfig | None = None) -> None:
        self.config = config or self.default_config()
        self.vocab: dict[str, int] = {}
        self.model = None
        self.history: list[dict[str, float]] = []
        self.best_epoch = 0
        self.r_threshold = 3.0

    @classmethod
    def default_config(cls) -> CTRConfig:
        return cls.config_class()

    def build_encoder(self, n_items: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _build(self, n_items: int):
        import torch

        encoder = self.build_encoder(n_items)
        head = _make_head(self.config.embedding_dim, self.config.dropout)

        class _Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder, self.head = encoder, head

            def forward(self, hist_items, hist_labels, target_items):
                h = self.encoder(hist_items, hist_labels)
                e = self.encoder.item_embedding(target_items)
                return self.head(torch.cat([h, e, h * e], dim=-1)).squeeze(-1)

        return _Net()

    def fit(self, data: TrainData) -> SequentialCTR:
        import torch

        c = self.config
        self.r_threshold = data.r_threshold
        self.vocab = build_item_vocab(data.train, data.interactions)
        train = tensorise(data.train, self.vocab, c.max_len, data.r_threshold)
        keep = ~np.isnan(train.labels)
        train = CTRArrays(train.hist_items[keep], train.hist_labels[keep], train.target_items[keep],
                          train.labels[keep])
        valid = tensorise(data.valid, self.vocab, c.max_len, data.r_threshold) if data.valid is not None else None
        if valid is not None:
            vkeep = ~np.isnan(valid.labels)
            valid_labels = valid.labels[vkeep]
            if len(set(valid_labels.tolist())) < 2:
                valid = None  # AUC undefined: train for max_epochs instead
        rng = np.random.default_rng(c.seed)
        self.history = []
        with torch_determinism(c.seed, c.threads):
            model = self._build(len(self.vocab) + 2)
            opt = torch.optim.Adam(model.parameters(), lr=c.learning_rate, weight_decay=c.weight_decay)
            loss_fn = torch.nn.BCEWithLogitsLoss()
            best_auc, best_state, bad = -1.0, None, 0
            for epoch in range(1, c.max_epochs + 1):
                model.train()
                order = rng.permutation(len(train))
                total = 0.0
                for start in range(0, len(order), c.batch_size):
                    sl = order[start:start + c.batch_size]
                    logits = model(torch.from_numpy(train.hist_items[sl]), torch.from_numpy(train.hist_labels[sl]),
                                   torch.from_numpy(train.target_items[sl]))
                    loss = loss_fn(logits, torch.from_numpy(train.labels[sl]))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(sl)
                record: dict[str, float] = {"epoch": epoch, "train_loss": total / max(len(order), 1)}
                if valid is not None:
                    self.model = model
                    scores = self._scores(valid)
                    auc = rank_auc(valid.labels[vkeep], scores[vkeep])
                    record["valid_auc"] = auc
                    if auc > best_auc:
                        best_auc, best_state, bad, self.best_epoch = auc, copy.deepcopy(model.state_dict()), 0, epoch
                    else:
                        bad += 1
                self.history.append(record)
                if valid is not None and bad >= c.patience:
                    break
            if best_state is not None:
                model.load_state_dict(best_state)
            else:
                self.best_epoch = len(self.history)
            model.eval()
        self.model = model
        return self

    def _scores(self, arrays: CTRArrays) -> np.ndarray:
        import torch

        if self.model is None:
            raise RuntimeError(f"{self.name} used before fit")
        self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(arrays), 1024):
                sl = slice(start, start + 1024)
                logits = self.model(torch.from_numpy(arrays.hist_items[sl]), torch.from_numpy(arrays.hist_labels[sl]),
                                    torch.from_numpy(arrays.target_items[sl]))
                out.append(torch.sigmoid(logits).numpy().astype(np.float64))
        return np.concatenate(out) if out else np.zeros(0)

    def predict(self, targets: pl.DataFrame, *, dataset: str = "", split: str | None = None) -> pl.DataFrame:

        arrays = tensorise(targets, self.vocab, self.config.max_len, self.r_threshold)
        with torch_determinism(self.config.seed, self.config.threads):
            prob = self._scores(arrays)
        return predictions_frame(targets, method=self.name, dataset=dataset, split=split, score=prob)

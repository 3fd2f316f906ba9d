"""Caser (Tang & Wang, WSDM 2018) with a sigmoid like-head, as the ReasoningRec paper uses it (App. A.2).

Convolutional sequence embedding: the last L history positions (item embedding + like/dislike label embedding)
form an L x d "image"; horizontal filters of every height 1..L (max-pooled over time) capture union-level
patterns and `n_v` vertical filters (L x 1) weight positions point-wise; both are concatenated and projected to
the history vector h. The user embedding of the original is omitted: the CTR protocol conditions on the
history only, and most test users would otherwise depend on one training row. Head/training: `ctr_model`.
"""

from __future__ import annotations

from typing import ClassVar

from reasonrec.baselines.ctr_data import LABEL_PAD, N_LABEL_TOKENS, PAD
from reasonrec.baselines.ctr_model import CTRConfig, SequentialCTR


class CaserConfig(CTRConfig):
    max_len: int = 5
    n_h: int = 16
    n_v: int = 4


class Caser(SequentialCTR):
    name: ClassVar[str] = "caser"
    config_class: ClassVar[type[CTRConfig]] = CaserConfig

    def build_encoder(self, n_items: int):
        import torch

        c = self.config
        assert isinstance(c, CaserConfig)

        class _Encoder(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                d, L = c.embedding_dim, c.max_len
                self.item_embedding = torch.nn.Embedding(n_items, d, padding_idx=PAD)
                self.label_embedding = torch.nn.Embedding(N_LABEL_TOKENS, d, padding_idx=LABEL_PAD)
                self.horizontal = torch.nn.ModuleList(torch.nn.Conv2d(1, c.n_h, (h, d)) for h in range(1, L + 1))
                self.vertical = torch.nn.Conv2d(1, c.n_v, (L, 1))
                self.dropout = torch.nn.Dropout(c.dropout)
                self.project = torch.nn.Linear(c.n_h * L + c.n_v * d, d)

            def forward(self, hist_items, hist_labels):
                x = self.item_embedding(hist_items) + self.label_embedding(hist_labels)  # (B, L, d)
                x = x.unsqueeze(1)  # (B, 1, L, d)
                pooled = []
                for conv in self.horizontal:
                    hmap = torch.relu(conv(x)).squeeze(3)  # (B, n_h, L - h + 1)
                    pooled.append(hmap.max(dim=2).values)
                v = self.vertical(x).flatten(1)  # (B, n_v * d)
                z = torch.cat([*pooled, v], dim=1)
                return torch.relu(self.project(self.dropout(z)))

        return _Encoder()

"""SASRec (Kang & McAuley, ICDM 2018) with a sigmoid like-head, as the ReasoningRec paper uses it (App. A.2).

Self-attentive sequential encoder: item embedding (+ a like/dislike label embedding per position, the CTR
protocol's history signal) + learned positional embedding, `n_blocks` pre-LayerNorm Transformer blocks with
causal attention and padding masks; the last position's output is the history vector h. The head and the
early-stopped BCE training live in `ctr_model`. (cornac's SASRec is a next-item ranker with no label input and
no sigmoid CTR head, so it does not fit this protocol.)
"""

from __future__ import annotations

from typing import ClassVar

from reasonrec.baselines.ctr_data import LABEL_PAD, N_LABEL_TOKENS, PAD
from reasonrec.baselines.ctr_model import CTRConfig, SequentialCTR


class SASRecConfig(CTRConfig):
    n_blocks: int = 2
    n_heads: int = 1


class SASRec(SequentialCTR):
    name: ClassVar[str] = "sasrec"
    config_class: ClassVar[type[CTRConfig]] = SASRecConfig

    def build_encoder(self, n_items: int):
        import torch

        c = self.config
        assert isinstance(c, SASRecConfig)

        class _Encoder(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                d = c.embedding_dim
                self.item_embedding = torch.nn.Embedding(n_items, d, padding_idx=PAD)
                self.label_embedding = torch.nn.Embedding(N_LABEL_TOKENS, d, padding_idx=LABEL_PAD)
                self.position_embedding = torch.nn.Embedding(c.max_len, d)
                self.dropout = torch.nn.Dropout(c.dropout)
                layer = torch.nn.TransformerEncoderLayer(
                    d, c.n_heads, dim_feedforward=d, dropout=c.dropout, batch_first=True, norm_first=True
                )
                self.blocks = torch.nn.TransformerEncoder(layer, c.n_blocks, enable_nested_tensor=False)
                self.norm = torch.nn.LayerNorm(d)
                causal = torch.triu(torch.ones(c.max_len, c.max_len, dtype=torch.bool), diagonal=1)
                self.register_buffer("causal", causal, persistent=False)

            def forward(self, hist_items, hist_labels):
                length = hist_items.shape[1]
                pos = torch.arange(length).unsqueeze(0)
                x = self.item_embedding(hist_items) * (self.item_embedding.embedding_dim ** 0.5)
                x = self.dropout(x + self.label_embedding(hist_labels) + self.position_embedding(pos))
                padding = hist_items == PAD
                padding[:, -1] = False  # the last slot is always attendable (an empty history stays finite)
                x = x * (~padding).unsqueeze(-1)
                out = self.blocks(x, mask=self.causal[:length, :length], src_key_padding_mask=padding)
                return self.norm(out[:, -1])

        return _Encoder()

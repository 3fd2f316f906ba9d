"""`reasonrec reproduce exp3rt`'s settings: one config for both protocols (the released IMDB pairs and the paper's
temporal split of raw reviews), so presets, `--set` and `--print-config` work the same on either."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from reasonrec.data.prepare import FilterConfig
from reasonrec.methods.reproduction import ReproductionConfig
from reasonrec.stages.exp3rt.extract import ExtractConfig
from reasonrec.stages.exp3rt.profiles import Exp3rtProfileConfig
from reasonrec.stages.exp3rt.reason import RatingScale
from reasonrec.train.lora import LoRAConfig

MF_GRID: list[dict[str, Any]] = [
    {"k": k, "lambda_reg": reg, "max_iter": 100} for k in (4, 16) for reg in (0.02, 0.1)
]


class Exp3rtReproConfig(ReproductionConfig):
    """Defaults: half the users train, every pair of the other half tests, teacher rationales, 2048 tokens.

    `protocol`: `release` = the released IMDB rating pairs, split user-disjointly (no timestamps or training
    ratings exist there); `temporal` = the paper's §4.1.1 protocol on raw reviews with timestamps (k-core, 8:1:1
    by timestamp, profiles from training reviews only, warm/cold/unseen in the report); `auto` = release when
    the dataset ships the pairs."""

    dataset: str = "exp3rt-imdb"
    protocol: Literal["auto", "release", "temporal"] = "auto"
    variant: Literal["helpful", "similarity"] = Field(
        "helpful", description="item profiles: the release's variant, or on raw reviews the profile strategy "
        "'helpful' / 'neighbour' (profiles.item_strategy follows it)")
    domain: str = Field("movies", description="prompt wording of every stage (movies | beauty | …)")
    scale: RatingScale = Field(default_factory=RatingScale, description="the data's rating scale (IMDB 1–10)")
    train_user_fraction: float = Field(0.5, gt=0, lt=1, description="release: share of users whose pairs train")
    train_pairs: int | None = Field(None, ge=1, description="at most N training pairs (None = all)")
    test_pairs: int | None = Field(None, ge=1, description="at most N test pairs (None = all)")
    rationale: Literal["teacher", "none"] = "teacher"
    student: Literal["lora", "zeroshot"] = Field(
        "lora", description="lora = the distilled student (local HF base); zeroshot = the student base answers "
        "the same rating prompt untrained (LLMRec-style prompting row; any backend)")
    teacher_max_new_tokens: int = Field(256, ge=1)
    max_new_tokens: int = Field(256, ge=1, description="student reasoning budget at test time")
    lora: LoRAConfig = Field(default_factory=lambda: LoRAConfig(num_train_epochs=3, eval_strategy="no"))
    rerank_generators: list[str] = Field(default_factory=lambda: ["bpr", "lightgcn"])
    rerank_users: int | None = Field(100, ge=0, description="test users whose top-20 is reranked (0 = skip)")
    n_candidates: int = Field(20, ge=1)
    rerank_item_profiles: Literal["variant", "item_profile.json"] = Field(
        "variant", description="item profiles in the reranking prompts: the `variant` the student trained on (from "
        "the release pairs; items they never show fall back to item_profile.json) or item_profile.json for all")
    like_cutoff: float = Field(6.0, description="binary metrics only: rating > cutoff is a like (IMDB is 1–10; "
                               "the 1–5 convention r > 3 rescaled). RMSE/MAE and AUC on E[rating] ignore it")
    filters: FilterConfig = Field(default_factory=lambda: FilterConfig(k_core=5),
                                  description="temporal: the paper's 5-core filter before the split")
    ratios: tuple[float, float, float] = Field((0.8, 0.1, 0.1), description="temporal: train/valid/test by time")
    reviews_per_user: int | None = Field(5, ge=1, description="temporal: a user's most recent training reviews "
                                         "that feed the user profile (None = all)")
    reviews_per_item: int | None = Field(5, ge=1, description="temporal: an item's most helpful training reviews "
                                         "that feed the item profile (None = all)")
    extract: ExtractConfig = Field(default_factory=ExtractConfig, description="temporal: preference extraction")
    profiles: Exp3rtProfileConfig = Field(default_factory=Exp3rtProfileConfig,
                                          description="temporal: user/item profile generation")
    rating_baselines: list[str] = Field(default_factory=lambda: ["user-mean", "item-mean", "mf"],
                                        description="temporal: registered rating baselines beside the global mean")
    mf_grid: list[dict[str, Any]] = Field(default_factory=lambda: [dict(p) for p in MF_GRID],
                                          description="temporal: MF settings tried; the lowest valid RMSE is used")


__all__ = ["MF_GRID", "Exp3rtReproConfig"]

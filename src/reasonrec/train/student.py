"""The one path from SFT data to a trained student: `reasonrec train lora`, a recipe's student step and every
reproduction train through `train_student` (pre-flight, SFT data on disk, LoRA training).

Pre-flight, before the first training step: every training and validation example must fit lora.max_seq_length,
and every prompt the run will score afterwards is built by the very code that scores it (`scoring`: one callable
per prompt family — student, TALLRec, each zero-shot variant — that raises ConfigError naming the prompt, the row
and the token counts). A run that would die at scoring after hours of training is refused at once, in one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from reasonrec.config import Config
from reasonrec.data.loaders import LoadOptions, load_dataset
from reasonrec.errors import ConfigError
from reasonrec.train.lora import LoRAConfig, LoRAResult, train_lora
from reasonrec.train.sft_data import SFTDataConfig, SFTDataset, build_reasoningrec_sft, load_tokenizer

ScoringCheck = Callable[[], object]
"""Builds one family of prompts the run will score; raises ConfigError when one cannot fit its budget."""


class TrainRunConfig(Config):
    """One training run: which dataset/splits, how to build the SFT data, how to train."""

    dataset: str = "reasoningrec-beauty"
    data_dir: Path | None = None
    train_split: str = "release_windows_train"
    valid_split: str | None = "release_windows_valid"
    sft: SFTDataConfig = Field(default_factory=SFTDataConfig)
    lora: LoRAConfig = Field(default_factory=LoRAConfig)


def check_examples(train: SFTDataset, valid: SFTDataset | None, lora: LoRAConfig) -> None:
    """Every training and validation example fits lora.max_seq_length, or ConfigError naming the first that does not."""
    for data in (train, valid):
        if data is None or not len(data):
            continue
        table = data.table
        over = table.filter((table["prompt_tokens"] + table["completion_tokens"]) > lora.max_seq_length)
        if over.height:
            row = over.row(0, named=True)
            raise ConfigError(
                f"pre-flight: {over.height} SFT example(s) do not fit lora.max_seq_length={lora.max_seq_length}, "
                f"e.g. user {row['user_id']} item {row['item_id']} ({row['split']}): {row['prompt_tokens']} prompt "
                f"+ {row['completion_tokens']} completion tokens; nothing was trained")


def check_scoring(scoring: Sequence[ScoringCheck]) -> None:
    """Build every prompt family the run will score; the first that cannot fit stops the run before training."""
    for check in scoring:
        try:
            check()
        except ConfigError as exc:
            raise ConfigError(f"pre-flight: {exc}; nothing was trained") from exc


def preflight(train: SFTDataset, valid: SFTDataset | None, lora: LoRAConfig,
              scoring: Sequence[ScoringCheck] = ()) -> None:
    """Refuse, before any model is loaded, a run whose examples or scoring prompts cannot fit (module docstring)."""
    check_scoring(scoring)
    check_examples(train, valid, lora)


def train_student(
    train: SFTDataset,
    valid: SFTDataset | None,
    lora: LoRAConfig,
    out_dir: str | Path,
    *,
    scoring: Sequence[ScoringCheck] = (),
    run_config: Config | None = None,
    command: str = "train student",
) -> LoRAResult:
    """Pre-flight, then OUT/sft_train/ (the examples and their stats), then the LoRA run directory."""
    preflight(train, valid, lora, scoring)
    out = Path(out_dir)
    train.write(out / "sft_train")
    return train_lora(train, valid, lora, out, run_config=run_config, command=command)


def build_sft_splits(config: TrainRunConfig, tokenizer: Any) -> tuple[SFTDataset, SFTDataset | None]:
    """Train (K-shot) and valid (all eligible rows) SFT datasets for a ReasoningRec/TALLRec run."""
    if config.sft.method not in ("reasoningrec", "tallrec"):
        raise ConfigError(
            f"sft.method={config.sft.method!r}: rating methods train from a teacher-paths table; build it with "
            "train.sft_data.build_rating_sft and call train_student directly"
        )
    ds = load_dataset(config.dataset, config.data_dir, LoadOptions(domain=config.sft.domain))

    def build(table_name: str, sample: bool) -> SFTDataset:
        if table_name not in ds.splits:
            raise ConfigError(f"dataset {config.dataset!r} has no split table {table_name!r}; "
                              f"available: {', '.join(sorted(ds.splits))}")
        tail = table_name.rsplit("_", 1)[-1]
        a = ds.artefacts
        return build_reasoningrec_sft(
            ds.splits[table_name], ds.items, a.get("item_descriptions"), a.get("user_profiles"),
            a.get("teacher_reasoning"), tokenizer, config.sft, sample=sample,
            split=tail if tail in ("train", "valid", "test") else table_name,
        )

    train = build(config.train_split, True)
    valid = build(config.valid_split, False) if config.valid_split else None
    return train, valid


def run_training(config: TrainRunConfig, out_dir: str | Path, *, command: str = "train lora",
                 scoring: Sequence[ScoringCheck] = ()) -> LoRAResult:
    """Dataset → SFT data → `train_student`; the scoring prompts are checked first (they are cheaper than the SFT
    data). Both `sft.max_seq_length` and `lora.max_seq_length` are honoured (the smaller wins: TRL never truncates)."""
    check_scoring(scoring)
    if config.sft.max_seq_length > config.lora.max_seq_length:
        config = config.model_copy(update={"sft": config.sft.model_copy(
            update={"max_seq_length": config.lora.max_seq_length})})
    train, valid = build_sft_splits(config, load_tokenizer(config.lora.model))
    return train_student(train, valid, config.lora, out_dir, run_config=config, command=command)


__all__ = [
    "ScoringCheck", "TrainRunConfig", "build_sft_splits", "check_examples", "check_scoring", "preflight",
    "run_training", "train_student",
]

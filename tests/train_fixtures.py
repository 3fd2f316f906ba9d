"""Small helpers shared by the training tests: the tiny SFT config and the label-only Beauty SFT data."""

from __future__ import annotations

from pathlib import Path

from datafiles import require_data

from reasonrec.train.sft_data import SFTDataConfig, SFTDataset, build_reasoningrec_sft, load_tokenizer

SMALL = SFTDataConfig(k=2, seed=5, include_profile=False, include_descriptions=False, max_seq_length=512)
"""K=2 per user, no profiles or descriptions, 512 tokens: a few short examples for the real embedded model."""


def label_only_train(shared_data: Path) -> SFTDataset:
    """The Beauty release's training split as `SMALL` SFT data (the teacher reasoning as completions)."""
    from reasonrec.data.loaders import load_dataset

    require_data(shared_data, "reasoningrec-beauty", "processed", "user_train.json")
    ds = load_dataset("reasoningrec-beauty", shared_data)
    return build_reasoningrec_sft(ds.splits["release_windows_train"], ds.items, None, None,
                                  ds.artefacts["teacher_reasoning"], load_tokenizer("embedded"), SMALL)

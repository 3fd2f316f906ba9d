"""Where a ReasoningRec release keeps each kind of file: one pattern per *part*, matched against relative paths.

The authors released every category in one layout but spelled some names per category: Beauty has
`user_profile_summary_wo_description.json` and `sample64_valsample600_…` runs, Fashion
`user_profile_summary_wo_item_description.json` and `sample64_valsample800_…`; the raw reviews are
`All_Beauty_5.json` or `AMAZON_FASHION.json`; ML-1M keeps its teacher reasoning in `teacher_reasoning_partial/`
with user counts in the names. Matching by pattern finds all of them without renaming anything. A pattern's named
groups (`split`, `run`, `variant`) key the files of a part; two files for one key is an error, never a guess.

Only the release folder is listed, three levels deep and at most `MAX_FILES` entries, and `ReleaseFiles.sources`
lists exactly the files handed out for reading (what a manifest should hash).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from reasonrec.errors import DataError

SPLITS = ("train", "valid", "test")
MAX_DEPTH = 3
MAX_FILES = 20_000
_SPLIT = r"(?P<split>train|valid|test)"


@dataclass(frozen=True)
class Part:
    """One kind of release file: `pattern` (regex over the path relative to the release root), `expected` (what
    it holds, for error messages) and `example` (the conventional path, `{split}` filled in when one is missing)."""

    pattern: str
    expected: str
    example: str


PARTS: dict[str, Part] = {
    # the catalogue of a rating release (Amazon categories: Beauty, Fashion, ...)
    "ratings": Part(r"processed/ratings\.csv", "ratings.csv with columns item,user,rating,timestamp (release index "
                    "space)", "processed/ratings.csv"),
    "item_index": Part(r"processed/idx_item_mapping\.json", "item index → ASIN dict", "processed/idx_item_mapping.json"),
    "user_index": Part(r"processed/idx_user_mapping\.json", "user index → reviewerID dict",
                       "processed/idx_user_mapping.json"),
    "item_information": Part(r"processed/processed_item_information\.json", "item index → {title, brand, price, "
                             "description} dict", "processed/processed_item_information.json"),
    "raw_reviews": Part(r"raw/[^/]+\.json", "the category's Amazon 2018 reviews as JSON lines (reviewerID, asin, "
                        "unixReviewTime, overall, reviewText)", "raw/All_Beauty_5.json"),
    "windows": Part(rf"processed/user_{_SPLIT}\.json", "user index → item-index window (last element = target)",
                    "processed/user_{split}.json"),
    # the catalogue of a MovieLens release (ML-1M: no ratings, CTR windows only)
    "movies": Part(r"processed/movies\.csv", "movies CSV with columns movie_id,name,cleaned_genre,year",
                   "processed/movies.csv"),
    "users_dat": Part(r"raw/users\.dat", "MovieLens-1M users.dat (UserID::Gender::Age::Occupation::Zip-code)",
                      "raw/users.dat"),
    "user_demographics": Part(r"processed/users\.csv", "users CSV with columns user_id,user_profile",
                              "processed/users.csv"),
    "release_targets": Part(rf"processed/user_{_SPLIT}_target\.json", "user id → [target movie id]",
                            "processed/user_{split}_target.json"),
    # the LLM artefacts
    "item_descriptions": Part(r"processed/item_description\.json", "item index → description",
                              "processed/item_description.json"),
    "item_summaries": Part(r"processed/movie_summary[^/]*\.csv", "movie_id,name,cleaned_genre,year,summary CSV",
                           "processed/movie_summary_25_words.csv"),
    "user_profiles": Part(r"processed/user_profile_summary\.json", "user → profile",
                          "processed/user_profile_summary.json"),
    "user_profiles_wo_description": Part(r"processed/user_profile_summary_wo_[a-z_]*description\.json",
                                         "user → profile (without item descriptions)",
                                         "processed/user_profile_summary_wo_description.json"),
    "user_profiles_pre_final": Part(r"user_profiles_pre_final/user_profile_dict[^/]*\.json", "user id → profile",
                                    "user_profiles_pre_final/user_profile_dict.json"),
    "profile_history": Part(r"processed/user_profile\.json", "user index → list of item indices",
                            "processed/user_profile.json"),
    "teacher_reasoning": Part(rf"teacher_reasoning(?:_partial)?/reasoning_{_SPLIT}_dict[^/]*\.json",
                              "user index → teacher reasoning text ending in 'Prediction: Yes/No'",
                              "teacher_reasoning/reasoning_{split}_dict.json"),
    "teacher_reasoning_wo_profile": Part(rf"teacher_reasoning_wo_profile/reasoning_{_SPLIT}_dict[^/]*\.json",
                                         "user index → teacher reasoning text (w/o-profile ablation)",
                                         "teacher_reasoning_wo_profile/reasoning_{split}_dict.json"),
    "zeroshot_outputs": Part(r"zeroshot_outputs/(?P<run>[^/]+)\.json",
                             "a zero-shot output dict (user index → generated text)", "zeroshot_outputs/<run>.json"),
    "authors_results": Part(r"student_reference_outputs/(?P<run>[^/]+)/results\.json",
                            "a nested results dict {dataset: {dataset: {run: {seed: {k: {auc, bertscore}}}}}}",
                            "student_reference_outputs/<run>/results.json"),
    "student_outputs": Part(r"student_reference_outputs/(?P<run>[^/]+)/test_outputs\.json",
                            "a list of {instruction, input, output, generated_output, logits}",
                            "student_reference_outputs/<run>/test_outputs.json"),
    "finetune": Part(rf"finetune_data/(?P<variant>[^/]+)/{_SPLIT}\.json",
                     "a list of {instruction, input, output} fine-tuning records",
                     "finetune_data/<variant>/{split}.json"),
    "tallrec": Part(rf"baselines/tallrec_format/{_SPLIT}\.json",
                    "a list of TALLRec {instruction, input, output} records", "baselines/tallrec_format/{split}.json"),
    "seq_ctr": Part(rf"(?:baselines/seq_ctr_csv|splits_seq_ctr_csv)/{_SPLIT}\.csv",
                    "a CTR split CSV (user, history_item_id, history_rating, item_id, rating, timestamp)",
                    "baselines/seq_ctr_csv/{split}.csv"),
}

_COMPILED = {name: re.compile(part.pattern) for name, part in PARTS.items()}


def list_release(root: Path) -> list[str]:
    """Relative POSIX paths of the files under `root`, at most `MAX_DEPTH` levels deep (bounded, sorted)."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        rel = Path(folder).relative_to(root)
        depth = len(rel.parts)
        if depth >= MAX_DEPTH - 1:
            dirs.clear()
        dirs.sort()
        found.extend((rel / name).as_posix() for name in sorted(files))
        if len(found) > MAX_FILES:
            raise DataError(f"more than {MAX_FILES} files: not a ReasoningRec release folder", path=root)
    return found


class ReleaseFiles:
    """The files of one release folder, by part and key; `sources` lists the ones handed out for reading."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.found: dict[str, dict[tuple[str, ...], Path]] = {name: {} for name in PARTS}
        self.sources: list[Path] = []
        for rel in list_release(root):
            for name, regex in _COMPILED.items():
                match = regex.fullmatch(rel)
                if match is None:
                    continue
                key = tuple(match.groupdict().values())
                other = self.found[name].get(key)
                if other is not None:
                    raise DataError(f"two files match {PARTS[name].expected!r} ({other.relative_to(root)} and "
                                    f"{rel}); keep one", path=root)
                self.found[name][key] = root / rel

    def has(self, part: str) -> bool:
        return bool(self.found[part])

    def _use(self, path: Path) -> Path:
        if path not in self.sources:
            self.sources.append(path)
        return path

    def missing(self, part: str, split: str | None = None) -> DataError:
        spec = PARTS[part]
        example = spec.example.format(split=split or "{split}")
        return DataError(f"file not found; expected {spec.expected}", path=self.root / example)

    def one(self, part: str) -> Path:
        """The single file of an un-keyed part (e.g. `ratings`); missing is an error naming the usual path."""
        path = self.found[part].get(())
        if path is None:
            raise self.missing(part)
        return self._use(path)

    def optional(self, part: str) -> Path | None:
        return self.one(part) if self.has(part) else None

    def by_split(self, part: str, splits: tuple[str, ...] = SPLITS, *, variant: str | None = None) -> dict[str, Path]:
        """One file per split (all of `splits` required); `variant` picks a finetune variant's files."""
        prefix = () if variant is None else (variant,)
        out = {}
        for split in splits:
            path = self.found[part].get((*prefix, split))
            if path is None:
                raise self.missing(part, split)
            out[split] = self._use(path)
        return out

    def splits_present(self, part: str, *, variant: str | None = None) -> tuple[str, ...]:
        keys = self.found[part]
        if variant is None:
            return tuple(s for s in SPLITS if (s,) in keys)
        return tuple(s for s in SPLITS if (variant, s) in keys)

    def runs(self, part: str) -> dict[str, Path]:
        """Files keyed by one name (`run` of zero-shot outputs / student outputs / results), sorted by it."""
        return {key[0]: self._use(path) for key, path in sorted(self.found[part].items())}

    def variants(self, part: str) -> tuple[str, ...]:
        return tuple(sorted({key[0] for key in self.found[part]}))

    def require(self, parts: tuple[str, ...]) -> None:
        """Fail on the first part with no file at all (presets know what their release ships)."""
        for part in parts:
            if not self.has(part):
                raise self.missing(part)


__all__ = ["PARTS", "SPLITS", "Part", "ReleaseFiles", "list_release"]

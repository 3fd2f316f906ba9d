"""Loaders for the ReasoningRec release layout: `reasoningrec-release` (any category) and its two presets.

The authors ship their LLM outputs next to the data, one folder per category in the same layout (`layout.py`
finds each file by pattern). Loading the outputs as typed **artefact** tables lets later stages reuse (or audit)
them instead of regenerating them, and loading the release's own split files as **target tables** (see the
shared contract) reproduces the authors' numbers on exactly their rows. Every release gets `info["facts"]`
(rows, distinct prompts, label balance, cold and repeat targets, counted here: `facts.py`) and `info["sources"]`
(the files read).

- `reasoningrec-release` takes a folder and a domain: `options.path`, else `<data root>/reasoningrec-<domain>`
  (`options.domain`), else the data root itself when it is a release. The raw reviews are optional
  (`info["raw_reviews"]`, `info["review_text_matched_rows"]`); so is every artefact.
- `reasoningrec-beauty`, `reasoningrec-ml1m` are presets: a fixed folder and the parts that release ships.

A release with `processed/ratings.csv` is a *rating* release (Amazon categories, `amazon_release.py`); one with
`processed/movies.csv` and CTR windows only is a *MovieLens* release (ML-1M, `movielens_release.py`).

Artefact tables (`Dataset.artefacts`), where the release ships them:

- `item_descriptions(item_id, text, source)` — LLM item descriptions (Beauty: Mixtral, 1,168 items;
  ML-1M: GPT-3.5 movie summaries). `processed_item_information.json` carries an identical copy
  (`info["item_descriptions"]`), so the canonical `items.description` stays the metadata one (null here).
- `user_profiles(user_id, text)`, `user_profiles_wo_description(user_id, text)` — LLM profiles (ML-1M: the GPT-3.5
  pre-final profiles); `profile_history(user_id, item_ids: list[str])` — the items each profile was built from.
- `teacher_reasoning(user_id, split, text, label)` (and `teacher_reasoning_wo_profile`) — label from the trailing
  "Prediction: Yes/No" (1/0; null when absent).
- `zeroshot_outputs(run, user_id, text)` — one row per user per file in `zeroshot_outputs/` (`run` = file stem).
- `student_reference_outputs(run, k, row, instruction, input, output, generated_output, logit, label, user_id,
  user_candidates)` — the authors' LoRA student on test; `logit` = their P(Yes); `user_id` mapped through the
  teacher test reasoning (`artefacts.map_student_rows`), `user_candidates` = how many users' teacher texts the
  row's output is a prefix of (1 = unambiguous).
- `authors_results(dataset, run, seed, k, auc, bertscore)` from `student_reference_outputs/*/results.json`.
- `finetune_<variant>_<split>(row, instruction, input, output, label)` for every `finetune_data/<variant>/`, and
  `tallrec_<split>` (same columns; label from "Yes."/"No.").
- `release_targets(user_id, split, item_id)` (ML-1M's per-user target ids).

Split tables (`Dataset.splits`, `TARGET_SCHEMA`): `release_windows_<split>` and `seq_ctr_<split>` (rating releases),
`seq_ctr_<split>` (MovieLens releases).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from reasonrec.answers import leading_prediction_label, trailing_prediction_label
from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.reasoningrec import artefacts as shared
from reasonrec.data.loaders.reasoningrec.amazon_release import rating_release_artefacts, rating_release_tables
from reasonrec.data.loaders.reasoningrec.facts import loader_notes, release_facts, release_notes
from reasonrec.data.loaders.reasoningrec.labels import LIKE_THRESHOLD
from reasonrec.data.loaders.reasoningrec.layout import PARTS, SPLITS, ReleaseFiles
from reasonrec.data.loaders.reasoningrec.movielens_release import (
    DERIVED_NOTES,
    movielens_artefacts,
    movielens_items,
    movielens_splits,
    movielens_users,
)
from reasonrec.data.loaders.reasoningrec.windows import rating_release_splits
from reasonrec.data.loaders.release_files import string_dict_table
from reasonrec.data.schema import TARGET_SCHEMA, Dataset
from reasonrec.errors import DataError

RELEASE_NAME = "reasoningrec-release"
RELEASE_FOLDER_PREFIX = "reasoningrec-"
UNKNOWN_GENERATOR = "unknown-llm"


@dataclass(frozen=True)
class ReleasePreset:
    """A release we know: its folder under the data root, its domain, the LLM that wrote its item descriptions
    (a fact the files do not state) and the parts it ships (a copy missing one is an error, not a quiet gap)."""

    name: str
    folder: str
    domain: str
    generator: str
    required: tuple[str, ...]


BEAUTY = ReleasePreset(
    "reasoningrec-beauty", "reasoningrec-beauty", "beauty", "mixtral-8x7b-instruct",
    ("ratings", "item_index", "user_index", "item_information", "windows", "item_descriptions", "user_profiles",
     "user_profiles_wo_description", "profile_history", "teacher_reasoning", "zeroshot_outputs", "authors_results",
     "student_outputs", "finetune", "tallrec", "seq_ctr"),
)
ML1M = ReleasePreset(
    "reasoningrec-ml1m", "reasoningrec-ml1m", "movie", "gpt-3.5-turbo",
    ("movies", "users_dat", "user_demographics", "seq_ctr", "item_summaries", "release_targets", "teacher_reasoning",
     "teacher_reasoning_wo_profile", "user_profiles_pre_final", "zeroshot_outputs", "authors_results", "tallrec"),
)
BEAUTY_FOLDER = BEAUTY.folder
ML1M_FOLDER = ML1M.folder
PRESETS: dict[str, ReleasePreset] = {BEAUTY.name: BEAUTY, ML1M.name: ML1M}


def _is_release(path: Path) -> bool:
    return (path / "processed").is_dir()


def release_folder(data_root: Path, options: LoadOptions) -> Path:
    """`options.path`, else `<data_root>/reasoningrec-<domain>`, else `data_root` itself — the first that holds a
    release (a `processed/` folder)."""
    if options.path is not None:
        candidates = [Path(options.path)]
    else:
        root = Path(data_root)
        candidates = [*([root / f"{RELEASE_FOLDER_PREFIX}{options.domain}"] if options.domain else []), root]
    for folder in candidates:
        if _is_release(folder):
            return folder
    tried = " or ".join(str(c) for c in candidates)
    raise DataError(
        f"no ReasoningRec release (a folder with processed/) at {tried}: point --data-dir (or load.path) at the "
        "release folder, or set load.domain (`reproduce`: domain) to read <data-dir>/reasoningrec-<domain>",
        path=candidates[0],
    )


def _shared_artefacts(files: ReleaseFiles, info: dict[str, object]) -> dict[str, pl.DataFrame]:
    artefacts: dict[str, pl.DataFrame] = {}
    for part in ("teacher_reasoning", "teacher_reasoning_wo_profile"):
        table = shared.teacher_reasoning(files, part)
        if table is not None:
            artefacts[part] = table
    for name, table in (("zeroshot_outputs", shared.zeroshot_outputs(files)),
                        ("authors_results", shared.authors_results(files))):
        if table is not None:
            artefacts[name] = table
    instructions, stats = shared.instruction_artefacts(files)
    artefacts.update(instructions)
    students, student_stats = shared.student_reference_outputs(
        files, artefacts.get("teacher_reasoning"), artefacts.get("finetune_reasoningrec_test")
    )
    if students is not None:
        artefacts["student_reference_outputs"] = students
    stats.update({f"student_{run}": s for run, s in student_stats.items()})
    if stats:
        info["duplicate_prompts"] = stats
    return artefacts


def _domain_hint(folder: Path, artefacts: dict[str, pl.DataFrame]) -> str | None:
    """The release's own name for its domain: results.json's dataset key, else the folder's suffix."""
    results = artefacts.get("authors_results")
    if results is not None and results["dataset"].n_unique() == 1:
        return str(results["dataset"][0])
    name = folder.name
    return name.removeprefix(RELEASE_FOLDER_PREFIX) if name.startswith(RELEASE_FOLDER_PREFIX) else None


def read_release(files: ReleaseFiles, *, name: str, domain: str | None, generator: str,
                 options: LoadOptions) -> Dataset:
    """The shared release reader: canonical tables by release kind, then the artefacts every kind shares."""
    info: dict[str, object] = {"notes": [], "release_folder": str(files.root)}
    notes: list[str] = info["notes"]  # type: ignore[assignment]
    if files.has("ratings"):
        interactions, items, users, lookup = rating_release_tables(files, options, info)
        splits = rating_release_splits(files, lookup, info)
        artefacts = rating_release_artefacts(files, generator, info)
    elif files.has("movies"):
        notes.extend(DERIVED_NOTES)
        items, users = movielens_items(files, info), movielens_users(files)
        splits, interactions = movielens_splits(files, info)
        artefacts = movielens_artefacts(files, splits, generator, info)
    else:
        raise DataError(f"neither {PARTS['ratings'].example} (a rating release) nor {PARTS['movies'].example} "
                        "(a MovieLens release) found: not a ReasoningRec release folder", path=files.root)
    artefacts.update(_shared_artefacts(files, info))
    if "user_profiles" not in artefacts and files.has("user_profiles_pre_final"):
        artefacts["user_profiles"] = string_dict_table(files.one("user_profiles_pre_final"),
                                                       PARTS["user_profiles_pre_final"].expected)
    info["domain"] = domain or _domain_hint(files.root, artefacts)
    info["facts"] = release_facts(splits, interactions, artefacts, info)
    notes.extend(loader_notes(info["facts"]))  # type: ignore[arg-type]
    info["parts_found"] = {part: len(found) for part, found in files.found.items() if found}
    info["sources"] = [str(p) for p in files.sources]
    return Dataset(name=name, interactions=interactions, items=items, users=users, artefacts=artefacts,
                   splits=splits, info=info)


def load_reasoningrec_release(data_root: Path, options: LoadOptions) -> Dataset:
    """Any category released in the ReasoningRec layout (see the module docstring for how the folder is found)."""
    files = ReleaseFiles(release_folder(data_root, options))
    return read_release(files, name=RELEASE_NAME, domain=options.domain, generator=UNKNOWN_GENERATOR,
                        options=options)


def load_preset(preset: ReleasePreset, data_root: Path, options: LoadOptions) -> Dataset:
    root = Path(options.path) if options.path is not None else Path(data_root) / preset.folder
    if not root.is_dir():
        raise DataError(f"dataset folder not found (expected the {preset.folder!r} release layout)", path=root)
    files = ReleaseFiles(root)
    files.require(preset.required)
    return read_release(files, name=preset.name, domain=preset.domain, generator=preset.generator, options=options)


def load_reasoningrec_beauty(data_root: Path, options: LoadOptions) -> Dataset:
    """The ReasoningRec Amazon-Beauty release: canonical tables, the authors' LLM artefacts and their splits."""
    return load_preset(BEAUTY, data_root, options)


def load_reasoningrec_ml1m(data_root: Path, options: LoadOptions) -> Dataset:
    """The ReasoningRec MovieLens-1M release (no ratings.dat): items, users, binary CTR windows and artefacts."""
    return load_preset(ML1M, data_root, options)


__all__ = ["BEAUTY", "BEAUTY_FOLDER", "LIKE_THRESHOLD", "ML1M", "ML1M_FOLDER", "PRESETS", "RELEASE_NAME", "SPLITS",
           "TARGET_SCHEMA", "ReleasePreset", "leading_prediction_label", "load_preset", "load_reasoningrec_beauty",
           "load_reasoningrec_ml1m", "load_reasoningrec_release", "read_release", "release_folder", "release_notes",
           "trailing_prediction_label"]

"""Loader for the EXP3RT IMDB release (`exp3rt-imdb`): GPT-3.5 profiles, the rating test pairs and top-k splits.

What the release holds and how it maps to our tables:

- `items` — the 1,155 items of `item_profile/item_profile.json`; title / genres / year and the metadata
  description are parsed from the `item_description` text of the rating pairs where the item appears there
  (`Title: North by Northwest (1959)\\nGenres: …`), null otherwise.
- `users` — the 859 users of `user_profile/user_profile.json`.
- `interactions` — the 2,073 (user, item, score 1–10) rating test pairs. The release has no timestamps
  (null here), and these are the only ratings it ships: the training ratings are not released.

Artefacts (`Dataset.artefacts`):

- `item_profiles(item_id, text)` — the [Like]/[Dislike] item synopsis; `user_profiles(user_id, text)` — persona.
- `rating_pairs_helpful`, `rating_pairs_similarity(user_id, item_id, user_persona, item_synopsis,
  item_description, score)` — the two test-set variants (synopses from helpful- vs similarity-selected reviews).
- `item_profile_pairs_{valid,test}`, `user_profile_pairs_{valid,test}(row, instruction, input, output)` — the
  profile-construction SFT pairs (the train split is not in the release).

Splits (`Dataset.splits`, LightGCN text format "uid item item …" in remapped ids, mapped back through
`user_list.txt` / `item_list.txt`): `topk_train`, `topk_test`, `topk_org_train`, `topk_org_test` with columns
(user_id, item_id, user_remap, item_remap, position). `topk/org/test.txt` lists most users several times; exact
duplicate (user, item) rows are dropped (count in `info`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.release_files import float_field, read_records
from reasonrec.data.schema import (
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    USERS_SCHEMA,
    Dataset,
    conform,
    validate_interactions,
)
from reasonrec.errors import DataError

EXP3RT_IMDB_FOLDER = "exp3rt-imdb"
PAIR_COLUMNS = ("user_id", "item_id", "user_persona", "item_synopsis", "item_description", "score")
_TITLE = re.compile(r"^Title:\s*(.*?)\s*(?:\((\d{4})\))?\s*$", re.MULTILINE)
_GENRES = re.compile(r"^Genres:\s*(.*?)\s*$", re.MULTILINE)


def _profile_table(path: Path, id_field: str, text_field: str, expected: str, key: str) -> pl.DataFrame:
    records = read_records(path, expected, (id_field, text_field))
    table = pl.DataFrame(
        {key: [str(r[id_field]) for r in records], "text": [r[text_field] for r in records]},
        schema={key: pl.String(), "text": pl.String()},
    )
    if table[key].is_duplicated().any():
        dup = table.filter(pl.col(key).is_duplicated())[key][0]
        raise DataError(f"duplicate {id_field} {dup!r}", path=path, field=id_field)
    return table


def _rating_pairs(path: Path) -> pl.DataFrame:
    expected = "a list of {user_id, item_id, user_persona, item_synopsis, item_description, score} records"
    records = read_records(path, expected, PAIR_COLUMNS)
    scores = float_field(records, "score", path)
    columns: dict[str, list[Any]] = {c: [str(r[c]) for r in records] for c in PAIR_COLUMNS if c != "score"}
    columns["score"] = scores
    schema = {c: pl.String() for c in PAIR_COLUMNS if c != "score"} | {"score": pl.Float64()}
    return pl.DataFrame(columns, schema=schema).select(PAIR_COLUMNS)


def _instruction_pairs(path: Path, expected: str) -> pl.DataFrame:
    records = read_records(path, expected, ("instruction", "input", "output"))
    return pl.DataFrame(
        {
            "row": list(range(len(records))),
            "instruction": [r["instruction"] for r in records],
            "input": [r["input"] for r in records],
            "output": [r["output"] for r in records],
        },
        schema={"row": pl.Int64(), "instruction": pl.String(), "input": pl.String(), "output": pl.String()},
    )


def _id_list(path: Path) -> dict[int, str]:
    """`org_id remap_id` lines (header first) → {remap_id: org_id}; org ids may contain '/' but no spaces."""
    if not path.is_file():
        raise DataError("file not found; expected an 'org_id remap_id' id list", path=path)
    mapping: dict[int, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or (number == 1 and line.split()[:2] == ["org_id", "remap_id"]):
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or not parts[1].isdigit():
            raise DataError(f"expected 'org_id remap_id', found {line[:60]!r}", path=path, line=number)
        remap = int(parts[1])
        if remap in mapping:
            raise DataError(f"remap_id {remap} listed twice", path=path, line=number, field="remap_id")
        mapping[remap] = parts[0]
    return mapping


def _topk_split(path: Path, users: dict[int, str], items: dict[int, str]) -> tuple[pl.DataFrame, int]:
    """LightGCN "uid item item …" lines → one row per (user, item) in original ids; returns (table, duplicates)."""
    if not path.is_file():
        raise DataError("file not found; expected LightGCN lines 'uid item item ...' (remapped ids)", path=path)
    user_remaps: list[int] = []
    item_remaps: list[int] = []
    positions: list[int] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if not all(f.isdigit() for f in fields):
            raise DataError(f"non-integer id in {line[:60]!r}", path=path, line=number)
        user = int(fields[0])
        if user not in users:
            raise DataError(f"user remap id {user} not in user_list.txt", path=path, line=number, field="uid")
        for position, value in enumerate(fields[1:]):
            item = int(value)
            if item not in items:
                raise DataError(f"item remap id {item} not in item_list.txt", path=path, line=number, field="item")
            user_remaps.append(user)
            item_remaps.append(item)
            positions.append(position)
    table = pl.DataFrame(
        {"user_remap": user_remaps, "item_remap": item_remaps, "position": positions},
        schema={"user_remap": pl.Int64(), "item_remap": pl.Int64(), "position": pl.Int64()},
    )
    unique = table.unique(subset=["user_remap", "item_remap"], keep="first", maintain_order=True)
    unique = unique.select(
        pl.col("user_remap").replace_strict(users, return_dtype=pl.String).alias("user_id"),
        pl.col("item_remap").replace_strict(items, return_dtype=pl.String).alias("item_id"),
        "user_remap", "item_remap", "position",
    )
    return unique, table.height - unique.height


def _item_metadata(pairs: pl.DataFrame) -> pl.DataFrame:
    """title / year / genres / description per item from the pairs' `item_description` text (first seen)."""
    first = pairs.unique(subset=["item_id"], keep="first", maintain_order=True)
    rows = []
    for item_id, text in first.select("item_id", "item_description").iter_rows():
        title_match = _TITLE.search(text or "")
        genres_match = _GENRES.search(text or "")
        rows.append({
            "item_id": item_id,
            "title": title_match.group(1) if title_match else None,
            "year": int(title_match.group(2)) if title_match and title_match.group(2) else None,
            "genres": [g.strip() for g in genres_match.group(1).split(",") if g.strip()] if genres_match else None,
            "description": text or None,
        })
    return pl.DataFrame(rows, schema={"item_id": pl.String(), "title": pl.String(), "year": pl.Int64(),
                                      "genres": pl.List(pl.String()), "description": pl.String()})


def load_exp3rt_imdb(data_root: Path, options: LoadOptions) -> Dataset:
    """The EXP3RT IMDB release: profiles as artefacts, the 2,073 rating pairs, and the LightGCN top-k splits."""
    root = Path(options.path) if options.path is not None else Path(data_root) / EXP3RT_IMDB_FOLDER
    if not root.is_dir():
        raise DataError(f"dataset folder not found (expected the {EXP3RT_IMDB_FOLDER!r} release layout)", path=root)
    info: dict[str, object] = {"notes": [
        "interactions are the 2,073 rating TEST pairs (scores 1-10) — the release has no training ratings",
        "timestamps are not in the release: interactions.timestamp is null",
    ]}
    read: list[Path] = []

    def read_file(path: Path) -> Path:
        """Record a file this loader reads, so a prepare manifest hashes exactly these."""
        read.append(path)
        return path

    artefacts: dict[str, pl.DataFrame] = {}
    artefacts["item_profiles"] = _profile_table(
        read_file(root / "item_profile" / "item_profile.json"), "item_id", "item_synopsis",
        "a list of {item_id, item_synopsis} records", "item_id",
    )
    artefacts["user_profiles"] = _profile_table(
        read_file(root / "user_profile" / "user_profile.json"), "user_id", "user_persona",
        "a list of {user_id, user_persona} records", "user_id",
    )
    for variant in ("helpful", "similarity"):
        artefacts[f"rating_pairs_{variant}"] = _rating_pairs(
            read_file(root / "rating_bias" / f"test_{variant}.json")
        )
    for kind in ("item", "user"):
        for split in ("valid", "test"):
            artefacts[f"{kind}_profile_pairs_{split}"] = _instruction_pairs(
                read_file(root / f"{kind}_profile" / f"{kind}_{split}.json"),
                f"a list of {kind}-profile construction {{instruction, input, output}} records",
            )

    pairs = artefacts["rating_pairs_helpful"]
    other = artefacts["rating_pairs_similarity"]
    same = pairs.select("user_id", "item_id", "score").equals(other.select("user_id", "item_id", "score"))
    info["rating_pairs"] = {"count": pairs.height, "helpful_and_similarity_same_pairs_and_scores": same}

    source = root / "rating_bias" / "test_helpful.json"
    interactions = pairs.select("user_id", "item_id", pl.col("score").alias("rating"))
    interactions = conform(interactions, INTERACTIONS_SCHEMA, table="interactions", source=source)
    validate_interactions(interactions, source=source)

    item_ids = artefacts["item_profiles"].select("item_id")
    items = item_ids.join(_item_metadata(pairs), on="item_id", how="left", maintain_order="left")
    items = conform(items, ITEMS_SCHEMA, table="items", source=root / "item_profile" / "item_profile.json")
    users = conform(artefacts["user_profiles"].select("user_id"), USERS_SCHEMA, table="users",
                    source=root / "user_profile" / "user_profile.json")
    info["pairs_items_without_profile"] = int(pairs.filter(~pl.col("item_id").is_in(item_ids["item_id"].implode())).height)
    info["pairs_users_without_profile"] = int(
        pairs.filter(~pl.col("user_id").is_in(users["user_id"].implode())).height
    )

    splits: dict[str, pl.DataFrame] = {}
    topk_info: dict[str, dict[str, int]] = {}
    for prefix, folder in (("topk", root / "topk"), ("topk_org", root / "topk" / "org")):
        user_map = _id_list(read_file(folder / "user_list.txt"))
        item_map = _id_list(read_file(folder / "item_list.txt"))
        for split in ("train", "test"):
            table, duplicates = _topk_split(read_file(folder / f"{split}.txt"), user_map, item_map)
            splits[f"{prefix}_{split}"] = table
            topk_info[f"{prefix}_{split}"] = {
                "rows": table.height, "users": table["user_id"].n_unique(), "items": table["item_id"].n_unique(),
                "duplicate_rows_dropped": duplicates, "listed_users": len(user_map), "listed_items": len(item_map),
            }
    info["topk"] = topk_info
    info["sources"] = [str(path) for path in read]
    return Dataset(name="exp3rt-imdb", interactions=interactions, items=items, users=users,
                   artefacts=artefacts, splits=splits, info=info)

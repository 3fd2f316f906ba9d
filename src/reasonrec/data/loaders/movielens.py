"""MovieLens 100K (`u.data`, `u.item`, `u.user`, `u.genre`) and 1M (`ratings.dat`, `movies.dat`, `users.dat`).

Both are parsed with Polars string ops on whole files (fast) while every row keeps its 1-based source line,
so errors and skips name the exact line. Item metadata files are latin-1 (titles like "Cité des enfants
perdus"); `options.encoding` overrides the encoding of every file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.common import (
    LINE,
    RowIssues,
    build_info,
    cast_column,
    check_rating_range,
    finish_interactions,
    read_lines,
    split_fields,
)
from reasonrec.data.schema import ITEMS_SCHEMA, USERS_SCHEMA, Dataset, conform
from reasonrec.errors import DataError

ML100K_FOLDER = "movielens-100k"
ML1M_FOLDER = "movielens-1m"
RATING_RANGE = (1.0, 5.0)
METADATA_ENCODING = "latin-1"
RATINGS_ENCODING = "utf-8"

# From the ML-1M README ("Occupation is chosen from the following choices").
ML1M_OCCUPATIONS = {
    0: "other",
    1: "academic/educator",
    2: "artist",
    3: "clerical/admin",
    4: "college/grad student",
    5: "customer service",
    6: "doctor/health care",
    7: "executive/managerial",
    8: "farmer",
    9: "homemaker",
    10: "K-12 student",
    11: "lawyer",
    12: "programmer",
    13: "retired",
    14: "sales/marketing",
    15: "scientist",
    16: "self-employed",
    17: "technician/engineer",
    18: "tradesman/craftsman",
    19: "unemployed",
    20: "writer",
}
ML1M_AGE_GROUPS = {1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55", 56: "56+"}

_TITLE_YEAR = r"\s*\((\d{4})\)\s*$"


def _folder(data_root: Path, options: LoadOptions, default: str) -> Path:
    folder = Path(options.path) if options.path is not None else Path(data_root) / default
    if not folder.is_dir():
        raise DataError("MovieLens folder not found (set load.path or the data root)", path=folder)
    return folder


def _split_title(df: pl.DataFrame) -> pl.DataFrame:
    """'Toy Story (1995)' → title 'Toy Story', year 1995; the original stays in `raw_title`."""
    return df.with_columns(
        pl.col("raw_title").str.replace(_TITLE_YEAR, "").str.strip_chars().alias("title"),
        pl.col("raw_title").str.extract(_TITLE_YEAR, 1).cast(pl.Int64).alias("year"),
    )


def read_ratings(path: Path, separator: str, *, encoding: str, issues: RowIssues) -> pl.DataFrame:
    """user item rating timestamp rows → interactions columns plus `_line` (not yet conformed)."""
    lines = read_lines(path, encoding, issues)
    df = split_fields(
        lines, separator, ["user_id", "item_id", "rating", "timestamp"], path=path, issues=issues
    )
    df = df.with_columns(pl.col("user_id").str.strip_chars(), pl.col("item_id").str.strip_chars())
    for column in ("user_id", "item_id"):
        bad = df.filter(pl.col(column) == "").with_columns(pl.col(column).alias("_value"))
        issues.report_rows(bad, "empty id", path=path, field=column)
        df = df.filter(pl.col(column) != "")
    df = cast_column(df, "rating", pl.Float64(), path=path, issues=issues)
    df = cast_column(df, "timestamp", pl.Int64(), path=path, issues=issues, what="integer unix timestamp")
    return check_rating_range(df, *RATING_RANGE, path=path, issues=issues)


def read_ml100k_genres(path: Path, *, encoding: str, issues: RowIssues) -> list[str]:
    """`u.genre` lines `name|index` → genre names in flag order."""
    df = split_fields(read_lines(path, encoding, issues), "|", ["name", "index"], path=path, issues=issues)
    df = cast_column(df, "index", pl.Int64(), path=path, issues=issues, what="integer")
    names = df.sort("index")["name"].to_list()
    if sorted(df["index"].to_list()) != list(range(len(names))):
        raise DataError("genre indices must be 0..n-1", path=path, field="index")
    return names


def read_ml100k_items(path: Path, genres: list[str], *, encoding: str, issues: RowIssues) -> pl.DataFrame:
    """`u.item`: id|title (year)|release date|video date|IMDb URL|one 0/1 flag per genre."""
    flag_names = [f"_g{i}" for i in range(len(genres))]
    names = ["item_id", "raw_title", "release_date", "_video_release_date", "imdb_url", *flag_names]
    df = split_fields(read_lines(path, encoding, issues), "|", names, path=path, issues=issues)
    for flag, genre in zip(flag_names, genres, strict=True):
        bad_expr = ~pl.col(flag).str.strip_chars().is_in(["0", "1"])
        bad = df.filter(bad_expr).with_columns(pl.col(flag).alias("_value"))
        issues.report_rows(bad, "genre flag must be 0 or 1, got {value!r}", path=path, field=f"genre:{genre}")
        df = df.filter(~bad_expr)
    genre_list = pl.concat_list(
        [
            pl.when(pl.col(f).str.strip_chars() == "1").then(pl.lit(g)).otherwise(None)
            for f, g in zip(flag_names, genres)
        ]
    ).list.drop_nulls()
    df = df.with_columns(
        genre_list.alias("genres"),
        pl.col("release_date").str.strip_chars().str.to_date("%d-%b-%Y", strict=False),
        pl.when(pl.col("imdb_url").str.strip_chars() == "")
        .then(None)
        .otherwise(pl.col("imdb_url"))
        .alias("imdb_url"),
    )
    df = _split_title(df).with_columns(
        pl.coalesce(pl.col("year"), pl.col("release_date").dt.year().cast(pl.Int64)).alias("year")
    )
    df = df.select(LINE, "item_id", "title", "year", "genres", "raw_title", "release_date", "imdb_url")
    return _unique_ids(df, "item_id", path=path, issues=issues)


def read_ml100k_users(path: Path, *, encoding: str, issues: RowIssues) -> pl.DataFrame:
    """`u.user`: id|age|gender|occupation|zip."""
    names = ["user_id", "age", "gender", "occupation", "zip"]
    df = split_fields(read_lines(path, encoding, issues), "|", names, path=path, issues=issues)
    df = cast_column(df, "age", pl.Int64(), path=path, issues=issues, what="integer age")
    return _unique_ids(df, "user_id", path=path, issues=issues)


def read_ml1m_movies(
    path: Path, *, encoding: str = METADATA_ENCODING, issues: RowIssues | None = None
) -> pl.DataFrame:
    """`movies.dat`: MovieID::Title (Year)::Genre|Genre → items columns (public: the ReasoningRec ML-1M loader reuses it)."""
    issues = issues or RowIssues()
    df = split_fields(
        read_lines(path, encoding, issues),
        "::",
        ["item_id", "raw_title", "_genres"],
        path=path,
        issues=issues,
    )
    df = _split_title(df).with_columns(
        pl.col("_genres")
        .str.strip_chars()
        .str.split("|")
        .list.eval(pl.element().filter(pl.element() != ""))
        .alias("genres")
    )
    df = df.select(LINE, "item_id", "title", "year", "genres", "raw_title")
    return _unique_ids(df, "item_id", path=path, issues=issues)


def read_ml1m_users(
    path: Path, *, encoding: str = METADATA_ENCODING, issues: RowIssues | None = None
) -> pl.DataFrame:
    """`users.dat`: UserID::Gender::Age::Occupation::Zip-code; age and occupation codes also get their labels."""
    issues = issues or RowIssues()
    names = ["user_id", "gender", "age", "occupation_id", "zip"]
    df = split_fields(read_lines(path, encoding, issues), "::", names, path=path, issues=issues)
    df = cast_column(df, "age", pl.Int64(), path=path, issues=issues, what="integer age code")
    df = cast_column(
        df, "occupation_id", pl.Int64(), path=path, issues=issues, what="integer occupation code"
    )
    df = df.with_columns(
        pl.col("age")
        .replace_strict(ML1M_AGE_GROUPS, default=None, return_dtype=pl.String)
        .alias("age_group"),
        pl.col("occupation_id")
        .replace_strict(ML1M_OCCUPATIONS, default=None, return_dtype=pl.String)
        .alias("occupation"),
    )
    df = df.select(LINE, "user_id", "gender", "age", "age_group", "occupation", "occupation_id", "zip")
    return _unique_ids(df, "user_id", path=path, issues=issues)


def _unique_ids(df: pl.DataFrame, column: str, *, path: Path, issues: RowIssues) -> pl.DataFrame:
    df = df.with_columns(pl.col(column).str.strip_chars())
    bad_expr = ~pl.col(column).is_first_distinct() | (pl.col(column) == "")
    bad = df.filter(bad_expr).with_columns(pl.col(column).alias("_value"))
    issues.report_rows(bad, "duplicate or empty id {value!r}", path=path, field=column)
    return df.filter(~bad_expr)


def _finish(
    name: str,
    ratings: pl.DataFrame,
    items: pl.DataFrame,
    users: pl.DataFrame,
    *,
    ratings_path: Path,
    sources: dict[str, str],
    options: LoadOptions,
    issues: RowIssues,
) -> Dataset:
    interactions, extra = finish_interactions(ratings, source=ratings_path, options=options, issues=issues)
    items = conform(items.drop(LINE), ITEMS_SCHEMA, table="items", source=sources["items"])
    users = conform(users.drop(LINE), USERS_SCHEMA, table="users", source=sources["users"])
    extra["unknown_items"] = interactions.filter(~pl.col("item_id").is_in(items["item_id"].implode())).height
    extra["unknown_users"] = interactions.filter(~pl.col("user_id").is_in(users["user_id"].implode())).height
    info = build_info(sources=sources, issues=issues, extra=extra)
    return Dataset(name=name, interactions=interactions, items=items, users=users, info=info)


def load_movielens_100k(data_root: Path, options: LoadOptions) -> Dataset:
    """MovieLens 100K: 100,000 ratings (1–5) of 1,682 movies by 943 users."""
    folder = _folder(data_root, options, ML100K_FOLDER)
    issues = RowIssues(options.on_error)
    meta_encoding = options.encoding or METADATA_ENCODING
    paths = {name: folder / f"u.{name}" for name in ("data", "item", "user", "genre")}
    ratings = read_ratings(paths["data"], "\t", encoding=options.encoding or RATINGS_ENCODING, issues=issues)
    genres = read_ml100k_genres(paths["genre"], encoding=meta_encoding, issues=issues)
    items = read_ml100k_items(paths["item"], genres, encoding=meta_encoding, issues=issues)
    users = read_ml100k_users(paths["user"], encoding=meta_encoding, issues=issues)
    sources = {"interactions": str(paths["data"]), "items": str(paths["item"]), "users": str(paths["user"]),
               "genres": str(paths["genre"])}  # every file read, so a prepare manifest hashes them all
    return _finish(
        "movielens-100k",
        ratings,
        items,
        users,
        ratings_path=paths["data"],
        sources=sources,
        options=options,
        issues=issues,
    )


def load_movielens_1m(data_root: Path, options: LoadOptions) -> Dataset:
    """MovieLens 1M: ratings.dat (UserID::MovieID::Rating::Timestamp), movies.dat, users.dat."""
    folder = _folder(data_root, options, ML1M_FOLDER)
    ratings_path = folder / "ratings.dat"
    if not ratings_path.is_file():
        raise DataError(
            "ratings.dat not found (MovieLens-1M needs ratings.dat, movies.dat and users.dat in one folder)",
            path=ratings_path,
        )
    issues = RowIssues(options.on_error)
    meta_encoding = options.encoding or METADATA_ENCODING
    ratings = read_ratings(ratings_path, "::", encoding=options.encoding or RATINGS_ENCODING, issues=issues)
    items = read_ml1m_movies(folder / "movies.dat", encoding=meta_encoding, issues=issues)
    users = read_ml1m_users(folder / "users.dat", encoding=meta_encoding, issues=issues)
    sources = {
        "interactions": str(ratings_path),
        "items": str(folder / "movies.dat"),
        "users": str(folder / "users.dat"),
    }
    return _finish(
        "movielens-1m",
        ratings,
        items,
        users,
        ratings_path=ratings_path,
        sources=sources,
        options=options,
        issues=issues,
    )

"""Registry of dataset loaders: one explicit entry per dataset name, no string-import magic.

`load_dataset(name)` resolves the data root (`reasonrec.paths.data_dir()` by default) and calls the loader;
each loader finds its own folder under the root (`DATASET_FOLDERS`) unless `options.path` points elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from reasonrec.data.loaders import amazon, exp3rt, movielens, reasoningrec, tabular
from reasonrec.data.loaders.base import Loader, LoadOptions
from reasonrec.data.schema import Dataset, cap_text_fields
from reasonrec.errors import ConfigError
from reasonrec.paths import data_dir

LOADERS: dict[str, Loader] = {
    "movielens-100k": movielens.load_movielens_100k,
    "movielens-1m": movielens.load_movielens_1m,
    "amazon-2018": amazon.load_amazon_2018,
    "amazon-2023": amazon.load_amazon_2023,
    "amazon-beauty-raw": amazon.load_amazon_beauty_raw,
    "tabular": tabular.load_tabular,
    "reasoningrec-beauty": reasoningrec.load_reasoningrec_beauty,
    "reasoningrec-ml1m": reasoningrec.load_reasoningrec_ml1m,
    "reasoningrec-release": reasoningrec.load_reasoningrec_release,
    "exp3rt-imdb": exp3rt.load_exp3rt_imdb,
}

DATASET_FOLDERS: dict[str, str] = {
    "movielens-100k": movielens.ML100K_FOLDER,
    "movielens-1m": movielens.ML1M_FOLDER,
    "amazon-2018": amazon.AMAZON_2018_FOLDER,
    "amazon-2023": amazon.AMAZON_2023_FOLDER,
    "amazon-beauty-raw": amazon.BEAUTY_RAW_FOLDER,
    "reasoningrec-beauty": reasoningrec.BEAUTY_FOLDER,
    "reasoningrec-ml1m": reasoningrec.ML1M_FOLDER,
    "exp3rt-imdb": exp3rt.EXP3RT_IMDB_FOLDER,
    # "tabular" has no default folder: it needs options.path; "reasoningrec-release" takes options.domain
}


def load_dataset(
    name: str, data_root: Path | str | None = None, options: LoadOptions | None = None
) -> Dataset:
    """Load dataset `name` into canonical tables."""
    loader = LOADERS.get(name)
    if loader is None:
        raise ConfigError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(LOADERS))}")
    options = options or LoadOptions()
    return cap_text_fields(loader(data_dir(data_root), options), options.text_caps)


__all__ = ["DATASET_FOLDERS", "LOADERS", "LoadOptions", "Loader", "load_dataset"]

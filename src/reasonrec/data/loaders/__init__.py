"""Registry of dataset loaders: one explicit entry per dataset name, no string-import magic.

`load_dataset(name)` resolves the data root (`reasonrec.paths.data_dir()` by default) and calls the loader;
each loader finds its own folder under the root (`DATASET_FOLDERS`) unless `options.path` points elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from reasonrec.data.loaders import amazon, movielens, tabular
from reasonrec.data.loaders.base import Loader, LoadOptions
from reasonrec.data.schema import Dataset
from reasonrec.errors import ConfigError
from reasonrec.paths import data_dir

LOADERS: dict[str, Loader] = {
    "movielens-100k": movielens.load_movielens_100k,
    "movielens-1m": movielens.load_movielens_1m,
    "amazon-2018": amazon.load_amazon_2018,
    "amazon-2023": amazon.load_amazon_2023,
    "amazon-beauty-raw": amazon.load_amazon_beauty_raw,
    "tabular": tabular.load_tabular,
    # release loaders (reasoningrec.py, exp3rt.py) register below
}

DATASET_FOLDERS: dict[str, str] = {
    "movielens-100k": movielens.ML100K_FOLDER,
    "movielens-1m": movielens.ML1M_FOLDER,
    "amazon-2018": amazon.AMAZON_2018_FOLDER,
    "amazon-2023": amazon.AMAZON_2023_FOLDER,
    "amazon-beauty-raw": amazon.BEAUTY_RAW_FOLDER,
    # "tabular" has no default folder: it needs options.path
}


def load_dataset(
    name: str, data_root: Path | str | None = None, options: LoadOptions | None = None
) -> Dataset:
    """Load dataset `name` into canonical tables."""
    loader = LOADERS.get(name)
    if loader is None:
        raise ConfigError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(LOADERS))}")
    return loader(data_dir(data_root), options or LoadOptions())


__all__ = ["DATASET_FOLDERS", "LOADERS", "LoadOptions", "Loader", "load_dataset"]

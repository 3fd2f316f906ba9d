"""A tiny catalogue and one user, shared by the grounding tests (imported, not a conftest: see tests/datafiles.py)."""

from __future__ import annotations

import polars as pl

from reasonrec.data.schema import Dataset

ITEMS = pl.DataFrame({
    "item_id": ["t", "h1", "h2", "h3", "c9"],
    "title": [
        "Pre de Provence Artisanal French Soap Bar Enriched with Shea Butter - Raspberry",
        "Glide Pro-Health Smooth Mint Floss", "Urban Spa Moisturizing Booties", "Waterpik Ultra Water Flosser",
        "Fekkai Full Blown Aerosol Foam Conditioner",
    ],
    "brand": ["Pre de Provence", "Oral-B", "Urban Spa", "Waterpik", "Fekkai"],
    "price": [4.99, 3.5, 7.99, 59.0, 20.0],
    "description": [
        "Strengths: rich lather, long-lasting, lovely scent, exfoliating. Weaknesses: slightly drying.",
        "A mint floss that shreds easily.", "Product: Bath Mitt. Soft, stretchy, exfoliates skin well.",
        "A powerful water flosser.", "A volumising conditioner.",
    ],
})
INTERACTIONS = pl.DataFrame({
    "user_id": ["u", "u", "u", "u", "v"],
    "item_id": ["h1", "h2", "h3", "t", "t"],
    "rating": [2.0, 5.0, 5.0, 4.0, 5.0],
    "timestamp": [1, 2, 3, 4, 2],
})
TARGET_ROW = {"user_id": "u", "item_id": "t", "rating": 4.0, "timestamp": 4, "label": 1, "split": "test",
              "history_item_ids": ["h1", "h2", "h3"], "history_ratings": [2.0, 5.0, 5.0], "history_labels": [0, 1, 1]}


def tiny_dataset() -> Dataset:
    targets = pl.DataFrame([TARGET_ROW])
    return Dataset(name="tiny", interactions=INTERACTIONS, items=ITEMS, users=pl.DataFrame({"user_id": ["u", "v"]}),
                   splits={"release_windows_test": targets})

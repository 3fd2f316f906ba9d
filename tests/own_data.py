"""A small shop of one's own, as a new user would bring it: ratings.csv + items.csv (titles, brands, categories).

Users love one of three product lines and rate it 4-5, the others 1-3, so CF has a signal and prompts have real
titles to show. Everything is seeded and tiny (≈ 300 ratings), so tests built on it stay fast.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

LINES = {
    "hair": ("Silkroot", ["Argan Shampoo", "Repair Conditioner", "Curl Cream", "Scalp Serum", "Hair Mask",
                          "Dry Shampoo", "Heat Spray", "Leave-in Milk"]),
    "skin": ("Dewlab", ["Vitamin C Serum", "Night Cream", "Gentle Cleanser", "Clay Mask", "Eye Gel",
                        "Toner Mist", "SPF 50 Lotion", "Lip Balm"]),
    "scent": ("Maison Fig", ["Fig Eau de Parfum", "Amber Candle", "Neroli Mist", "Vetiver Soap", "Rose Oil",
                             "Cedar Diffuser", "Musk Body Lotion", "Citrus Cologne"]),
}
RATINGS_HEADER = ("uid", "sku", "stars", "date")  # deliberately not the canonical names: needs a column map
COLUMN_MAP = {"user_id": "uid", "item_id": "sku", "rating": "stars", "timestamp": "date"}


def items() -> list[dict[str, str]]:
    rows = []
    for line, (brand, titles) in LINES.items():
        for n, title in enumerate(titles):
            rows.append({"sku": f"{line[:2].upper()}{n:03d}", "title": f"{brand} {title}", "brand": brand,
                         "categories": f"Beauty|{line.title()}", "price": f"{9 + 3 * n}.99"})
    return rows


def write_shop(root: Path, *, users: int = 36, per_user: int = 9, seed: int = 7, id_width: int = 2) -> dict[str, Path]:
    """ratings.csv (uid, sku, stars, ISO date) and items.csv under `root`; returns their paths."""
    rng = np.random.default_rng(seed)
    catalogue = items()
    by_line = {line: [r["sku"] for r in catalogue if r["sku"].startswith(line[:2].upper())] for line in LINES}
    root.mkdir(parents=True, exist_ok=True)
    ratings = root / "ratings.csv"
    with ratings.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(RATINGS_HEADER)
        for u in range(users):
            loves = list(LINES)[u % 3]
            picked: set[str] = set()
            for t in range(per_user):
                own = rng.random() < 0.7
                line = loves if own else list(LINES)[(u + 1 + int(rng.integers(2))) % 3]
                choices = [s for s in by_line[line] if s not in picked] or by_line[line]
                sku = str(rng.choice(choices))
                picked.add(sku)
                stars = int(rng.integers(4, 6)) if own else int(rng.integers(1, 4))
                writer.writerow((f"user{u:0{id_width}d}", sku, stars, f"2024-{1 + t:02d}-{1 + u % 27:02d}"))
    items_csv = root / "items.csv"
    with items_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(catalogue[0]))
        writer.writeheader()
        writer.writerows(catalogue)
    return {"ratings": ratings, "items": items_csv}


def column_map_setting() -> str:
    """`--set` value mapping the shop's columns to the canonical names."""
    return "load.column_map={" + ", ".join(f"{k}: {v}" for k, v in COLUMN_MAP.items()) + "}"


def build_shop(root: Path, **shop: int) -> dict[str, Path]:
    """CSV files → `data prepare` (tabular loader, column map, items file) → `baselines run bpr`, by the CLI."""
    from reasonrec.cli import app

    files = write_shop(root, **shop)
    runner = CliRunner()
    prepared = runner.invoke(app, ["data", "prepare", str(files["ratings"]), "--out", str(root / "prepared"),
                                   "--set", column_map_setting(), "--set", f"load.items_path={files['items']}"])
    assert prepared.exit_code == 0, prepared.output
    cf = runner.invoke(app, ["baselines", "run", "bpr", "--split-dir", str(root / "prepared"), "--out",
                             str(root / "bpr"), "--set", "max_iter=60", "--set", "min_rating=4"])
    assert cf.exit_code == 0, cf.output
    return {**files, "root": root, "prepared": root / "prepared", "cf": root / "bpr"}

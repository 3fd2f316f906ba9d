"""`write_bundle` copies consistent sources into one verified directory and refuses inconsistent ones;
`load_bundle` refuses a bundle whose files no longer match its manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from own_data import build_shop

from reasonrec.bundle import BundleConfig, BundleSources, load_bundle, sources_from_run, write_bundle
from reasonrec.errors import ConfigError, DataError

CF_ONLY = BundleConfig(name="shop", dataset="shop", scorer="cf", student=False)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_shop(tmp_path_factory.mktemp("shop"))


def _descriptions(shop, path: Path, ids: list[str] | None = None) -> Path:
    items = pl.read_parquet(shop["prepared"] / "items.parquet")["item_id"].to_list()
    pl.DataFrame({"item_id": ids or items, "text": [f"about {i}" for i in (ids or items)]}).write_parquet(path)
    return path


def test_a_bundle_holds_verified_copies_of_its_sources(shop, tmp_path) -> None:
    sources = BundleSources(shop["prepared"], shop["cf"],
                            item_descriptions=_descriptions(shop, tmp_path / "descriptions.parquet"))
    out = write_bundle(sources, CF_ONLY, tmp_path / "bundle")
    bundle = load_bundle(out)
    assert bundle.config.scorer == "cf" and bundle.config.include_descriptions
    assert not bundle.config.include_profile  # no profiles were given: the prompt must not promise them
    assert bundle.items.height == 24 and "title" in bundle.items.columns
    assert bundle.cf.generator == "bpr"
    assert bundle.item_descriptions is not None and bundle.item_descriptions.height == 24
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["outputs"]) >= {"bundle.yaml", "cf/cf_model.npz", "data/items.parquet",
                                        "artefacts/item_descriptions.parquet"}
    assert manifest["base_model_sha256"] is None  # a CF-only bundle has no model to pin


def test_edited_or_added_files_are_refused_on_load(shop, tmp_path) -> None:
    out = write_bundle(BundleSources(shop["prepared"], shop["cf"]), CF_ONLY, tmp_path / "bundle")
    copy = tmp_path / "edited"
    shutil.copytree(out, copy)
    pl.read_parquet(copy / "data" / "items.parquet").head(3).write_parquet(copy / "data" / "items.parquet")
    with pytest.raises(DataError, match="items.parquet does not match"):
        load_bundle(copy)
    added = tmp_path / "added"
    shutil.copytree(out, added)
    (added / "artefacts").mkdir()
    pl.DataFrame({"user_id": ["user00"], "text": ["x"]}).write_parquet(added / "artefacts" / "user_profiles.parquet")
    with pytest.raises(DataError, match="user_profiles.parquet is not recorded"):
        load_bundle(added)


def test_inconsistent_sources_are_refused(shop, tmp_path) -> None:
    other = tmp_path / "other_data"
    shutil.copytree(shop["prepared"], other)
    train = other / "splits" / "train_interactions.parquet"
    pl.read_parquet(train).head(10).write_parquet(train)
    manifest = json.loads((other / "manifest.json").read_text())
    from reasonrec.io import sha256_file

    manifest["outputs"]["splits/train_interactions.parquet"] = sha256_file(train)
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="CF model was not trained on this data"):
        write_bundle(BundleSources(other, shop["cf"]), CF_ONLY, tmp_path / "b1")
    with pytest.raises(DataError, match="name ids the bundle's tables lack"):
        write_bundle(BundleSources(shop["prepared"], shop["cf"],
                                   item_descriptions=_descriptions(shop, tmp_path / "d.parquet", ["NOPE"])),
                     CF_ONLY, tmp_path / "b2")
    with pytest.raises(DataError, match="not a CF run directory"):
        write_bundle(BundleSources(shop["prepared"], tmp_path), CF_ONLY, tmp_path / "b3")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with pytest.raises(ConfigError, match="not an empty directory"):
        write_bundle(BundleSources(shop["prepared"], shop["cf"]), CF_ONLY, tmp_path / "full")


def test_cli_bundles_a_prepared_directory_and_recommends_from_it(shop, tmp_path) -> None:
    from typer.testing import CliRunner

    from reasonrec.cli import app

    runner = CliRunner()
    made = runner.invoke(app, ["bundle", str(shop["prepared"]), "--cf", str(shop["cf"]), "--out",
                               str(tmp_path / "b"), "--set", "scorer=cf", "--set", "student=false"])
    assert made.exit_code == 0, made.output
    bundle = load_bundle(tmp_path / "b")
    assert bundle.config.history_k == 5 and bundle.config.like_threshold == 3.0  # as the data was prepared
    recs = runner.invoke(app, ["recommend", str(tmp_path / "b"), "--user", "user00", "--user", "user01",
                               "--set", "n=4", "--out", str(tmp_path / "recs")])
    assert recs.exit_code == 0, recs.output
    assert "user user00" in recs.output and any(b in recs.output for b in ("Dewlab", "Silkroot", "Maison"))
    rows = [json.loads(line) for line in (tmp_path / "recs" / "recommendations.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and {r["user_id"] for r in rows} == {"user00", "user01"}
    assert pl.read_parquet(tmp_path / "recs" / "recommendations.parquet").height == 8
    unknown = runner.invoke(app, ["recommend", str(tmp_path / "b"), "--user", "ghost"])
    assert unknown.exit_code == 2 and "unknown user" in unknown.output
    again = runner.invoke(app, ["bundle", str(shop["prepared"]), "--cf", str(shop["cf"]), "--out", str(tmp_path / "b")])
    assert again.exit_code == 2 and "not an empty directory" in again.output


def _recipe_run(shop, root: Path, method: str, student_train: dict) -> Path:
    """A recipe run directory as `reasonrec run METHOD` leaves it: data/, student/adapter/, config + manifest."""
    run = root / f"run_{method}"
    shutil.copytree(shop["prepared"], run / "data")
    (run / "student" / "adapter").mkdir(parents=True)
    config = {"dataset": "shop", "student": {"enabled": True, "train": student_train}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "manifest.json").write_text(json.dumps({"method": method, "outputs": {}}))
    return run


def test_a_recipe_run_is_read_through_the_methods_registry(shop, tmp_path) -> None:
    run = _recipe_run(shop, tmp_path, "reasoningrec", {"sft": {"method": "tallrec", "like_threshold": 3.5},
                                                       "lora": {"model": "embedded"}})
    sources, settings = sources_from_run(run, shop["cf"])
    assert sources.data_dir == run / "data" and sources.adapter == run / "student" / "adapter"
    assert settings["method"] == "tallrec" and settings["like_threshold"] == 3.5
    assert settings["llm"] == {"model": "embedded"} and settings["history_k"] == 5
    rating = _recipe_run(shop, tmp_path, "exp3rt", {"sft": {"method": "exp3rt"}})
    with pytest.raises(ConfigError, match="predicts ratings"):
        sources_from_run(rating, shop["cf"])
    typo = _recipe_run(shop, tmp_path, "recsaver", {"sft": {"methd": "tallrec"}})
    with pytest.raises(ConfigError, match="methd"):
        sources_from_run(typo, shop["cf"])

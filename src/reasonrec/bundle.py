"""A model bundle: one directory holding everything `reasonrec recommend` and `reasonrec serve` need.

    BUNDLE/bundle.yaml                        BundleConfig: what to serve and how (scorer, method, LLM, prompt)
    BUNDLE/data/{interactions,items,users}.parquet   the catalogue and every user's history (the cut-off source)
    BUNDLE/cf/cf_model.npz                    the CF candidate generator's state (`baselines.factors`)
    BUNDLE/artefacts/{item_descriptions,user_profiles}.parquet   optional LLM-written texts (id, text)
    BUNDLE/adapter/                           optional LoRA adapter of the student
    BUNDLE/manifest.json                      sha256 of every file above, the sources they came from

Why a copy and not pointers: a service must start from one directory that cannot change under it, and a bundle
must say exactly what it serves. `write_bundle` refuses inconsistent sources (a CF model trained on other data than
the tables, ids the catalogue lacks, a data directory that no longer matches its manifest); `load_bundle` refuses
a bundle whose files do not match its manifest. The base model itself is not copied (it can be gigabytes): the
manifest records its identity hash and loading the LLM checks it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.baselines.factors import FACTORS_FILE, FactorModel
from reasonrec.config import Config, read_yaml_mapping
from reasonrec.data.prepared import verify_prepared
from reasonrec.errors import ConfigError, DataError
from reasonrec.io import sha256_file, write_json, write_parquet
from reasonrec.llm.registry import LLMConfig
from reasonrec.methods import METHODS
from reasonrec.runs import hash_files, package_versions, read_manifest
from reasonrec.stages.common.grounded import ExplainConfig
from reasonrec.stages.student import LABEL_SCORING
from reasonrec.train.student import TrainRunConfig

BUNDLE_CONFIG = "bundle.yaml"
MANIFEST = "manifest.json"
DATA_TABLES = ("interactions", "items", "users")
ARTEFACTS = {"item_descriptions": "item_id", "user_profiles": "user_id"}
ADAPTER_DIR = "adapter"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
TRAIN_INTERACTIONS = "splits/train_interactions.parquet"


class BundleConfig(Config):
    """What a bundle serves. `scorer` names an entry of `reasonrec.recommend.SCORERS`; the prompt fields are the
    student's (`PredictConfig`): a student must be scored with the prompt it was trained on."""

    name: str = "bundle"
    dataset: str = Field("", description="label of the data the bundle was built from")
    scorer: str = Field("llm", description="how candidates are scored: 'llm' (P(like) of the student), 'cf' "
                        "(the generator's order), 'hybrid' (a blend)")
    student: bool = Field(True, description="the bundle has an LLM student to score and explain with")
    method: Literal["reasoningrec", "tallrec"] = Field("reasoningrec", description="the student's prompt family")
    domain: str = Field("products", description="prompt wording (see reasonrec.prompts.DOMAINS)")
    like_threshold: float = Field(3.0, description="r_T: a history item is liked when its rating > r_T")
    history_k: int = Field(5, ge=1, le=50, description="most recent history items shown in a prompt")
    include_profile: bool = True
    include_descriptions: bool = True
    max_prompt_tokens: int = Field(1792, ge=64)
    explanation_tokens: int = Field(160, ge=1, le=1024, description="longest generated explanation")
    explain: ExplainConfig = Field(
        default_factory=lambda: ExplainConfig(mode="evidence"),
        description="evidence: written from the retrieved evidence after the predicted label, shown with that "
                    "evidence and the grounding checker's marks; free: the student's own words")
    llm: LLMConfig = Field(default_factory=LLMConfig, description="the student; adapter relative to the bundle")


@dataclass
class BundleSources:
    """Where `write_bundle` copies from: a prepared data directory, a CF run directory (with cf_model.npz), and
    optional adapter / artefact tables."""

    data_dir: Path
    cf_run: Path
    adapter: Path | None = None
    item_descriptions: Path | None = None
    user_profiles: Path | None = None


@dataclass
class Bundle:
    """A loaded, verified bundle."""

    root: Path
    config: BundleConfig
    interactions: pl.DataFrame
    items: pl.DataFrame
    users: pl.DataFrame
    cf: FactorModel
    item_descriptions: pl.DataFrame | None
    user_profiles: pl.DataFrame | None
    manifest: dict[str, Any]

    def check_model(self, model_hash: str) -> None:
        """Refuse to serve with base weights other than the ones the bundle was written for."""
        expected = self.manifest.get("base_model_sha256")
        if expected and expected != model_hash:
            raise ConfigError(f"{self.root}: the bundle was written for base weights {expected[:12]}…, the loaded "
                              f"model has {model_hash[:12]}…; set llm.model to the model the student was trained on")

    def llm_config(self) -> LLMConfig:
        """The student's LLM config with the adapter resolved inside the bundle."""
        adapter = self.config.llm.adapter
        if adapter is None:
            return self.config.llm
        return self.config.llm.model_copy(update={"adapter": str(self.root / adapter)})


# ------------------------------------------------------------------------------------------------ writing


def check_outputs(root: Path, manifest: dict[str, Any], names: list[str], what: str) -> None:
    """Each of `names` is listed in the manifest's outputs and matches its sha256 (else one line naming it)."""
    outputs: dict[str, str] = manifest["outputs"]
    for name in names:
        path = root / name
        if name not in outputs:
            raise DataError(f"{name} is not recorded in the {what}'s {MANIFEST}", path=root)
        if not path.is_file():
            raise DataError(f"{name} is listed in the {what}'s {MANIFEST} but missing", path=root)
        if sha256_file(path) != outputs[name]:
            raise DataError(f"{name} does not match the sha256 in the {what}'s {MANIFEST} (edited or mixed)",
                            path=root)


def _train_interactions_hash(cf_manifest: dict[str, Any]) -> str | None:
    for name, digest in (cf_manifest.get("inputs") or {}).items():
        if str(name).replace("\\", "/").endswith(TRAIN_INTERACTIONS):
            return str(digest)
    return None


def check_sources(sources: BundleSources) -> tuple[dict[str, pl.DataFrame], FactorModel]:
    """Load and cross-check the sources; a DataError naming the first inconsistency."""
    data_manifest = verify_prepared(sources.data_dir)
    cf_manifest = read_manifest(sources.cf_run, "CF run directory", "rerun `reasonrec baselines run`")
    check_outputs(sources.cf_run, cf_manifest, [FACTORS_FILE], "CF run directory")
    trained_on = _train_interactions_hash(cf_manifest)
    expected = data_manifest["outputs"].get(TRAIN_INTERACTIONS)
    if trained_on is None or trained_on != expected:
        raise DataError(f"the CF model was not trained on this data directory's {TRAIN_INTERACTIONS} "
                        f"(sha256 {str(trained_on)[:12]} vs {str(expected)[:12]}); rerun `reasonrec baselines run` "
                        f"on {sources.data_dir}", path=sources.cf_run)
    tables = {t: pl.read_parquet(sources.data_dir / f"{t}.parquet") for t in DATA_TABLES}
    cf = FactorModel.load(sources.cf_run / FACTORS_FILE)
    catalogue = set(tables["items"]["item_id"].to_list())
    unknown = [i for i in cf.item_ids if i not in catalogue]
    if unknown:
        raise DataError(f"the CF model knows {len(unknown)} item(s) the items table lacks, e.g. {unknown[0]!r}",
                        path=sources.cf_run / FACTORS_FILE)
    for name in ("item_descriptions", "user_profiles"):
        path = getattr(sources, name)
        if path is not None:
            tables[name] = _artefact(path, name, tables)
    if sources.adapter is not None and not any((sources.adapter / f).is_file() for f in ADAPTER_FILES[1:]):
        raise DataError("not a LoRA adapter directory (no adapter_model.*)", path=sources.adapter)
    return tables, cf


def _artefact(path: Path, name: str, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    key = ARTEFACTS[name]
    if not path.is_file():
        raise DataError("file not found", path=path)
    table = pl.read_parquet(path)
    for column in (key, "text"):
        if column not in table.columns:
            raise DataError(f"{name} table has no {column!r} column (columns: {table.columns})", path=path,
                            field=column)
    table = table.select(pl.col(key).cast(pl.String), pl.col("text").cast(pl.String)).unique(key, keep="last")
    known = set(tables["items" if key == "item_id" else "users"][key].to_list())
    foreign = table.filter(~pl.col(key).is_in(list(known)))
    if foreign.height:
        raise DataError(f"{foreign.height} {name} row(s) name ids the bundle's tables lack, e.g. "
                        f"{foreign[key][0]!r}: built from other data?", path=path, field=key)
    return table


def write_bundle(sources: BundleSources, config: BundleConfig, out: str | Path, *,
                 command: str = "reasonrec bundle") -> Path:
    """Check `sources`, copy them into `out` (a new or empty directory), write bundle.yaml and the manifest."""
    started = time.time()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: exists and is not an empty directory; choose a new directory for the bundle")
    tables, cf = check_sources(sources)
    written = [write_parquet(out / "data" / f"{t}.parquet", tables[t]) for t in DATA_TABLES]
    written += [write_parquet(out / "artefacts" / f"{n}.parquet", tables[n]) for n in ARTEFACTS if n in tables]
    written.append(cf.save(out / "cf" / FACTORS_FILE))
    llm = config.llm.model_copy(update={"adapter": None})
    if sources.adapter is not None:
        for name in ADAPTER_FILES:
            if (sources.adapter / name).is_file():
                (out / ADAPTER_DIR).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(sources.adapter / name, out / ADAPTER_DIR / name)
                written.append(out / ADAPTER_DIR / name)
        llm = llm.model_copy(update={"adapter": ADAPTER_DIR})
    final = config.model_copy(update={"llm": llm, "include_descriptions": config.include_descriptions
                                      and "item_descriptions" in tables,
                                      "include_profile": config.include_profile and "user_profiles" in tables})
    written.append(final.save(out / BUNDLE_CONFIG))
    manifest = {
        "command": command,
        "packages": package_versions(("reasonrec", "polars", "numpy", "torch", "transformers", "peft")),
        "started_at": started,
        "finished_at": time.time(),
        "sources": {k: str(v) for k, v in vars(sources).items() if v is not None},
        "counts": {"users": tables["users"].height, "items": tables["items"].height,
                   "interactions": tables["interactions"].height, "cf_users": len(cf.user_ids),
                   "cf_items": len(cf.item_ids)},
        "generator": cf.generator,
        "base_model_sha256": base_model_sha256(final.llm) if final.student else None,
        "outputs": hash_files(written, root=out),
    }
    write_json(out / MANIFEST, manifest)
    return out


def base_model_sha256(llm: LLMConfig) -> str | None:
    """The weights hash of a local (hf) base model, recorded so a bundle refuses to serve with other weights;
    None for remote backends, whose weights cannot be checked from here."""
    if llm.backend != "hf":
        return None
    # heavy (torch, transformers): imported only when a bundle with a local model is written
    from reasonrec.llm.embedded import weights_sha256
    from reasonrec.llm.hf import resolve_model_path

    return weights_sha256(resolve_model_path(llm.model)[0])


# ------------------------------------------------------------------------------------------------ from a run


def _is_prepared(path: Path) -> bool:
    return (path / MANIFEST).is_file() and (path / "interactions.parquet").is_file()


def _yaml_if_present(path: Path) -> dict[str, Any]:
    return read_yaml_mapping(path) if path.is_file() else {}


def _first_file(candidates: list[Path]) -> Path | None:
    return next((p for p in candidates if p.is_file()), None)


def trained_student(run: Path) -> TrainRunConfig | None:
    """How the run's student was trained: a recipe run's `student.train` (its config read as the class
    `methods.METHODS[method].recipe` declares), a `train lora` run's own config; None for a prepared directory."""
    manifest = read_manifest(run, "run directory", "bundle a run written by reasonrec") \
        if (run / MANIFEST).is_file() else {}
    config = _yaml_if_present(run / "config.yaml")
    method = manifest.get("method")
    if isinstance(method, str) and method in METHODS:
        recipe = METHODS[method].recipe.config.from_dict(config, source=str(run / "config.yaml"))
        if not recipe.student.enabled:
            return None
        data_dir = None if recipe.data_dir is None else str(recipe.data_dir)
        return TrainRunConfig.from_dict({"dataset": recipe.dataset, "data_dir": data_dir, **recipe.student.train},
                                        source=f"{run / 'config.yaml'}: student.train")
    if (run / "adapter").is_dir() and {"sft", "lora"} <= set(config):
        return TrainRunConfig.from_dict(config, source=str(run / "config.yaml"))
    return None


def sources_from_run(run_dir: str | Path, cf_run: str | Path, *, item_descriptions: Path | None = None,
                     user_profiles: Path | None = None) -> tuple[BundleSources, dict[str, Any]]:
    """Bundle sources and BundleConfig settings found in a run directory: a prepared data directory itself, a
    `train lora` run (adapter/ + config.yaml naming its dataset), or a recipe run (data/ or a prepared dataset,
    stages/<name>/<name>.parquet, student/adapter). Explicit artefact paths win over found ones."""
    run = Path(run_dir)
    if not run.is_dir():
        raise DataError("not a run directory", path=run)
    student = None if _is_prepared(run) else trained_student(run)
    dataset = student.dataset if student is not None else str(_yaml_if_present(run / "config.yaml").get("dataset")
                                                              or "")
    candidates = [run, run / "data", *([Path(dataset)] if dataset else [])]
    data_dir = next((c for c in candidates if _is_prepared(c)), None)
    if data_dir is None:
        raise DataError(f"no prepared data directory found (looked at {[str(c) for c in candidates]}); bundles are "
                        "written from runs on a directory written by `reasonrec data prepare`", path=run)
    adapter = next((a for a in (run / "adapter", run / "student" / "adapter") if a.is_dir()), None)
    sources = BundleSources(
        data_dir=data_dir, cf_run=Path(cf_run), adapter=adapter,
        item_descriptions=item_descriptions or _first_file([run / "stages" / "item_descriptions" /
                                                            "item_descriptions.parquet"]),
        user_profiles=user_profiles or _first_file([run / "stages" / "user_profiles" / "user_profiles.parquet"]),
    )
    return sources, _settings_from_run(student, _yaml_if_present(data_dir / "config.yaml"), dataset or data_dir.name)


def _settings_from_run(student: TrainRunConfig | None, prepared: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The student's prompt contract and base model as the run trained it; the data's like threshold and
    history window as it was prepared."""
    settings: dict[str, Any] = {"name": Path(dataset).name or "bundle", "dataset": Path(dataset).name}
    if prepared.get("r_threshold") is not None:
        settings["like_threshold"] = prepared["r_threshold"]
    if student is not None:
        sft = student.sft
        if sft.method not in LABEL_SCORING:
            raise ConfigError(f"the run's student predicts ratings (sft.method={sft.method!r}); a bundle serves "
                              f"P(like) students: {', '.join(LABEL_SCORING)}")
        settings.update(method=sft.method, domain=sft.domain, include_profile=sft.include_profile,
                        include_descriptions=sft.include_descriptions, like_threshold=sft.like_threshold,
                        llm={"model": student.lora.model})
    k = (prepared.get("split") or {}).get("k_history")
    if isinstance(k, int) and k > 0:
        settings["history_k"] = min(k, 50)
    return settings


# ------------------------------------------------------------------------------------------------ loading


def load_bundle(root: str | Path) -> Bundle:
    """Read and verify a bundle: every file its manifest lists matches, and no file it needs is unlisted."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("not a bundle directory", path=root)
    manifest = read_manifest(root, "bundle", "write it again with `reasonrec bundle`")
    needed = [BUNDLE_CONFIG, f"cf/{FACTORS_FILE}", *[f"data/{t}.parquet" for t in DATA_TABLES]]
    resolved = root.resolve()
    for name in manifest["outputs"]:
        if Path(name).is_absolute() or not (root / name).resolve().is_relative_to(resolved):
            raise DataError(f"{MANIFEST} lists {name!r}, outside the bundle", path=root)
    for folder in ("artefacts", ADAPTER_DIR):  # a file dropped in later would be served unchecked
        for path in sorted((root / folder).glob("*")) if (root / folder).is_dir() else []:
            needed.append(f"{folder}/{path.name}")
    check_outputs(root, manifest, sorted(set(needed) | set(manifest["outputs"])), "bundle")
    config = BundleConfig.from_yaml(root / BUNDLE_CONFIG)
    artefacts = {n: pl.read_parquet(root / "artefacts" / f"{n}.parquet") if (root / "artefacts" / f"{n}.parquet")
                 .is_file() else None for n in ARTEFACTS}
    return Bundle(
        root=root,
        config=config,
        interactions=pl.read_parquet(root / "data" / "interactions.parquet"),
        items=pl.read_parquet(root / "data" / "items.parquet"),
        users=pl.read_parquet(root / "data" / "users.parquet"),
        cf=FactorModel.load(root / "cf" / FACTORS_FILE),
        item_descriptions=artefacts["item_descriptions"],
        user_profiles=artefacts["user_profiles"],
        manifest=manifest,
    )


__all__ = ["Bundle", "BundleConfig", "BundleSources", "check_outputs", "check_sources", "load_bundle",
           "sources_from_run", "trained_student", "write_bundle"]

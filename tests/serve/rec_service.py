"""The own-data shop as a served bundle: what the recommendation API and explorer tests talk to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
from own_data import build_shop

from reasonrec.bundle import BundleConfig, BundleSources, write_bundle
from reasonrec.llm.registry import LLMConfig

REC_KEY_ENV = "REASONREC_TEST_REC_KEY"
KEY = "rec-key-not-secret"


@dataclass(frozen=True)
class RecService:
    root: str
    feedback_db: Path
    bundle: Path

    def get(self, path: str, key: str | None = KEY, **params) -> httpx.Response:
        headers = {"X-API-Key": key} if key else {}
        return httpx.get(self.root + path, headers=headers, params=params, timeout=120)

    def post(self, path: str, body: object, key: str | None = KEY) -> httpx.Response:
        headers = {"X-API-Key": key} if key else {}
        return httpx.post(self.root + path, headers=headers, json=body, timeout=120)


def shop_bundle(root: Path, *, explanation_tokens: int = 24) -> Path:
    """The own-data shop as a bundle whose student is the embedded base model (no adapter)."""
    shop = build_shop(root / "shop")
    config = BundleConfig(name="shop", dataset="shop", domain="beauty", explanation_tokens=explanation_tokens,
                          llm=LLMConfig(cache_path=str(root / "llm_cache.sqlite")))
    return write_bundle(BundleSources(shop["prepared"], shop["cf"]), config, root / "bundle")

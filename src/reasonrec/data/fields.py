"""Parsers for messy source fields that several loaders read the same way (one owner per field).

Prices: Amazon metadata and the ReasoningRec release both carry prices as scraped strings ("$1,234.56", "",
"$5.99 - $9.99", page CSS). One rule for all of them: an optional "$", digits with correct thousands grouping
and an optional fraction; anything else (ranges, junk, negative or non-finite numbers) is no price, never a guess.
"""

from __future__ import annotations

import math
import re

_PRICE = re.compile(r"^\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?$")


def parse_price(value: object) -> float | None:
    """'$1,234.56' / 12.5 → float; '' / None / ranges ('$5 - $9') / page junk → None (meta prices are messy)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _PRICE.match(value.strip())
    if not match:
        return None
    return float(match.group(1).replace(",", "") + (match.group(2) or ""))


__all__ = ["parse_price"]

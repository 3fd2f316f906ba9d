"""Claim splitting: verdict lines and headings are not claims, list markers go, spans point into the source."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reasonrec.eval.grounding.claims import MAX_CLAIMS, split_claims


def test_split_drops_verdicts_headings_and_markers() -> None:
    text = ("Prediction: Yes\nSummary of user behavior:\n1. The user liked the soap; they disliked the floss.\n"
            "2. The target has a rich lather. Overall\nAnswer: Prediction: No")
    claims = split_claims(text)
    assert [c.text for c in claims] == [
        "The user liked the soap", "they disliked the floss.", "The target has a rich lather.", "Overall",
    ]
    assert all(text[c.start:c.end] == c.text for c in claims)
    assert [c.index for c in claims] == list(range(len(claims)))


def test_quoted_titles_and_html_entities_stay_inside_one_claim() -> None:
    text = ('They liked the similar product "Bath &amp; Body Works Shampoo 13.5 oz. Value Pack" (rated 5 of 5). '
            "It is gentle; it lathers.")
    claims = [c.text for c in split_claims(text)]
    first = 'They liked the similar product "Bath &amp; Body Works Shampoo 13.5 oz. Value Pack" (rated 5 of 5).'
    assert claims == [first, "It is gentle", "it lathers."]


def test_empty_and_looping_texts_are_bounded() -> None:
    assert split_claims(None) == [] and split_claims("  \n ") == []
    assert len(split_claims("The user likes soap. " * 500)) == MAX_CLAIMS


@given(st.lists(st.sampled_from([
    "The user liked X.", "1. It has a rich lather!", "Prediction: Yes", "Summary:", "- They dislike mint; it stings.",
    "Overall, a good fit?", "e.g. the soap.",
]), max_size=10), st.sampled_from([" ", "\n", "\n\n"]))
def test_spans_index_the_source(parts: list[str], sep: str) -> None:
    text = sep.join(parts)
    for claim in split_claims(text):
        assert text[claim.start:claim.end] == claim.text and claim.text.strip() == claim.text

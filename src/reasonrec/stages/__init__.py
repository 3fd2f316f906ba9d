"""LLM stages: plain functions (tables, llm, config) -> table; shared machinery in `stages.base`.

ReasoningRec: `describe` (item descriptions), `profile` (user profiles), `reason` (teacher reasoning and the
generic multi-path sampler), `zeroshot` (P(like) ablations, TALLRec prompt). `context` turns canonical and
artefact tables into prompt views. Other methods' stages build on `base` and `reason.sample_paths`.
"""

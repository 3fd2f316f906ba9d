"""LLM stages: plain functions (tables, llm, config) -> table, one package per method, like `prompts/`.

- `common`: what every stage shares — config fields, prompt jobs → result tables, token budgets, artefact writing
  (`base`), prompt views of items and history (`context`), the multi-path sampler (`paths`) and the P(like)
  predictions frame (`label_rows`).
- `reasoningrec`: item descriptions, user profiles, teacher reasoning, zero-shot P(like) (incl. the TALLRec prompt).
- `exp3rt`: preference extraction, user/item profiles (+ neighbour selection), teacher reasoning, rating prediction.
- `recsaver`: post-hoc explanations, leak scrubbing, self-verification, teacher paths, filters, zero-shot ratings.
- `student`: the prompt contract of a distilled student — the prompt it is trained on is the one it is scored with.
"""

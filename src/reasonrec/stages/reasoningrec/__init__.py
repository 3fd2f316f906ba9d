"""ReasoningRec's stages (Bismay et al.): describe items → profile users → teacher reasoning → zero-shot P(like)."""

"""TALLRec (Bao et al., ReasoningRec's baseline): the recipe; its reproduction runs inside ReasoningRec's."""

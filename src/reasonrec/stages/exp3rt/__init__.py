"""EXP3RT's stages (Kim et al.): extract preferences → user/item profiles → teacher reasoning → E[rating]."""

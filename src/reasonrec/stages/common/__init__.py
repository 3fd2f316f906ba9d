"""What every LLM stage shares: jobs → tables, token budgets, item/history views, the multi-path sampler."""

"""reasonrec: LLM-reasoning recommendation — a recommender that says why."""

__version__ = "0.1.0"

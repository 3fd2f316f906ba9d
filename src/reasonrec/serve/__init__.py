"""Serving: the OpenAI-compatible model server (`reasonrec llm serve`) and, later, the explorer API."""

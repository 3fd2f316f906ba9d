"""The one door to language models: generate and score, cached, for any backend."""

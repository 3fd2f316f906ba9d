"""Data layer: loaders to canonical tables, filters, splits and segments."""

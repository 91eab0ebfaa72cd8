"""Built-in segmenters (placeholder until written)."""

"""Built-in samplers (placeholder until written)."""

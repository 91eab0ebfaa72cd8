"""Built-in trackers (placeholder until written)."""

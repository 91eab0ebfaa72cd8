"""Evaluation commands (score, eval, bench)."""

"""Evaluation: VOS dataset readers, DAVIS metrics, scoring and benchmarking."""

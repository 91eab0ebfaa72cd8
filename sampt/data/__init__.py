"""Data: synthetic clips with exact ground truth."""

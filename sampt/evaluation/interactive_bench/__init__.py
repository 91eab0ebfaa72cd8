"""``sampt interactive-bench``: the paper's interactive benchmark (the simulated annotator) and its resumable run."""

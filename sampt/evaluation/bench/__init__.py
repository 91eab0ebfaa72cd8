"""``sampt bench``: the grid (plan), the measured combinations, the run, the prediction and the report."""

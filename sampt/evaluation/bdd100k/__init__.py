"""BDD100K VOS: J&F by visibility duration (metrics) and scoring."""

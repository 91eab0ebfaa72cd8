"""Video instance segmentation (UVO / YouTube-VIS): proposals, prediction, metrics, scoring, ``eval`` and ``bench``."""

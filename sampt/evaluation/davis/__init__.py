"""DAVIS 2016/2017 (and MOSE): the official J&F metrics and the scoring of result PNGs."""

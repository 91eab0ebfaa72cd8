"""YouTube-VOS: the overall score G (metrics) and scoring against local annotations."""

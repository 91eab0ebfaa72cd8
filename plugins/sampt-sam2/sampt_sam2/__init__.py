"""SAM 2 / SAM 2.1 for sampt: promptable segmenters and the SAM 2 video predictor as a bench method."""
from sampt_sam2._version import __version__

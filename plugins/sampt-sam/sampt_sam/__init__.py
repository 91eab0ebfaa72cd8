"""sampt plugin: the SAM family (SAM, HQ-SAM, Light HQ-SAM, MobileSAM) as promptable segmenters."""
from sampt_sam._version import __version__

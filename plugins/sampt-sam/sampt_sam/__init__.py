"""sampt plugin: the SAM family (SAM, HQ-SAM, Light HQ-SAM, MobileSAM) as promptable segmenters."""

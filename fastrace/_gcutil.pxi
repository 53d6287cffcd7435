# Included by fastrace/_analysis.pyx.

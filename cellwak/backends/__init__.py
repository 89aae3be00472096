"""Optional language back-ends: R (rpy2 / Rscript) and Julia (juliacall / a julia executable).

Both are detected, never assumed: every caller gets a clear reason when one is missing.
"""

"""Answers -> numbers: parsing, refusals, normalisers, text-embedding confidences (eq. 1-3), metrics and per-clip rows."""

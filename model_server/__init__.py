"""Serving one of our in-process adapters over HTTP, for models that need an environment of their own.

Runs inside the model's own environment (often Python 3.10) with this
repository on ``PYTHONPATH``: standard library, numpy and soundfile only.
"""

"""Serving one of our in-process adapters over HTTP, for models that need an environment of their own."""

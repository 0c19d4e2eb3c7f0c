"""Helpers the adapters share: audio, devices, hub weights, lazy imports, HF generation, the HTTP chat client.

Importable without torch, transformers or openai (imported lazily where used)
and in Python 3.10 syntax: the model server imports them inside a model's own,
older environment.
"""

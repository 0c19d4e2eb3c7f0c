"""Family bases of the adapters: text (language models), in-process, CLAP, served over HTTP.

Importable without torch, transformers or openai (imported lazily where used)
and in Python 3.10 syntax: the model server imports them inside a model's own,
older environment.
"""

"""Helpers shared by the model adapters: settings, devices, audio, generation, the OpenAI chat client.

Everything here stays importable without torch, transformers or openai (they
are imported lazily where used) and keeps to Python 3.10 syntax: the model
server (`model_adapters.serve`) imports these modules inside a model's own,
older environment.
"""

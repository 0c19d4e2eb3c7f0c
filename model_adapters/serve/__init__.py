"""The old home of the model server, kept so that ``python -m model_adapters.serve.openai_server`` works."""

"""The models under test as the core knows them: a spec resolved once into label, factory and settings.

The core never imports `model_adapters`: whoever starts a session (the
plugin, the model server) hands the built-in names in.
"""

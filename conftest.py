"""Loads the SSEU-Bench plugin for every pytest run in this repository."""

pytest_plugins = ["plugins.sseu.plugin"]

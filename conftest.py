"""Loads the SSEU-Bench plugin when the package is not installed (installed, its entry point has done it)."""

pytest_plugins = ["plugins.sseu.plugin"]

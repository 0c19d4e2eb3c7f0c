"""SSEU-Bench evaluation harness: speech, scene and event understanding of audio LLMs."""

__version__ = "0.1.0"

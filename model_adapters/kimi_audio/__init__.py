"""`kimi-audio`: Kimi-Audio-7B-Instruct, served from its own environment."""

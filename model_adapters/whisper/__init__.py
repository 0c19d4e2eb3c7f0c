"""`whisper`: an ASR-only baseline through transformers (openai/whisper-large-v3 by default)."""

"""`qwen2-audio`: Qwen2-Audio-7B-Instruct through transformers."""

"""`openai`: any OpenAI-compatible chat endpoint (vLLM, hosted audio models, our own model server)."""

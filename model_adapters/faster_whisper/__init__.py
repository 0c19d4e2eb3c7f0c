"""`faster-whisper`: Whisper tiny.en (bundled, offline) or any CTranslate2 Whisper, ASR only, on the CPU."""

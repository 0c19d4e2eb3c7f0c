"""The clips: manifests, audio, the mixer (item + SNR -> waveform), and building, importing and materializing sets."""

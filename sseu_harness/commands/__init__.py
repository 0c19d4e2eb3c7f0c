"""One module per CLI command (see `sseu_harness/cli.py`)."""

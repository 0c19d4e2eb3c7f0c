"""Model adapters, one folder per model with the same file names in each."""

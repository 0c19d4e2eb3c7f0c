"""Numbers -> verdicts: records and averages, bootstrap intervals, every gate, the bounds file, the configuration check."""

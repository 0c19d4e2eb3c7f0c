"""`mga-clap`: MGA-CLAP (GitHub Ming-er/MGA-CLAP), a baseline for ASC and AT."""

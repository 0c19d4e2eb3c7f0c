"""`clap`: MS-CLAP (the original CLAP, Microsoft) through the msclap package."""

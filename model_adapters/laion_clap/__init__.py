"""`laion-clap`: LAION-CLAP through transformers ClapModel."""

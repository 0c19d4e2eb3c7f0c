"""Writing files safely: whole or not at all, shared SQLite files, the harness's own strict TOML data files."""

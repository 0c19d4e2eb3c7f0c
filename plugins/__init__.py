"""pytest plugins of the harness."""

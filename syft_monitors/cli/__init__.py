"""The `syft-bg` command line interface (click; rich output lives only here)."""

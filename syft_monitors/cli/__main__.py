"""`python -m syft_monitors.cli` = `syft-bg` (what the systemd units run: no PATH needed)."""

from syft_monitors.cli.main import main

main()

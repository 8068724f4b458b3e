"""Google Drive access for the monitors: request accounting, the changes feed, listings.

Knows Drive, not SyftBox semantics (those live in `syft_monitors.protocol` and the monitors).
"""

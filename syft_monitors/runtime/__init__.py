"""The runtime both services share: the poll loop, the Drive sources, file classification,
exactly-once delivery and the wiring from config (a layer below `approve` and `monitors`)."""

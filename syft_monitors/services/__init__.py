"""The background services (`notify`, `approve`): what they are and how to run and check them."""

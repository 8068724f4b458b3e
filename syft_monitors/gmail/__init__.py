"""Reading the data owner's Gmail: the history feed, messages and threads (sending is in notify)."""

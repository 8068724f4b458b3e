"""Monitors: turn Drive changes and local job folders into events, and events into emails."""

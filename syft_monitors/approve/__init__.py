"""The approve service: auto-accept peer requests and auto-approve jobs that match rules."""

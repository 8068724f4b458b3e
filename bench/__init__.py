"""Benchmarks for syft-monitor (issue 7): `python -m bench [--smoke] [--only NAME] [--repeat N]`.

Everything runs on 127.0.0.1 against the sandbox Google server through the official Google
client; results go to `bench/results.json` and the tables in `bench/README.md` are regenerated
from them.
"""

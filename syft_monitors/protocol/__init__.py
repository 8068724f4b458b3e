"""Pure SyftBox protocol layer: names, messages, jobs and peers files. No network, no clock.

Everything hostile stops here: callers get typed values or a `ProtocolError` subclass.
"""

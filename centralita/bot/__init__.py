"""The pure bot engine: flow loading, validation, compilation, interpretation, testing.

Nothing in this package does I/O beyond reading flow files, and nothing imports Flask, RQ or
Twilio: the web app, the workers and the CLI drive it with state in and effects out.
"""

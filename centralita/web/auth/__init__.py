"""Signing in and out of the pages, and the sessions log (see docs/web.md)."""

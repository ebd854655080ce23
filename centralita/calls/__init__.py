"""Calls and leads: provider-independent call log, post-call outcomes, first-call attempts (built by the calls issue)."""

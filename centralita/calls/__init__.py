"""Calls and leads: a provider-independent call log, post-call outcomes, first-call attempts.

Built by the calls issue.
"""

"""Routing: campaigns' queues, presence and capacity, assignment policies, timers, closure.

Built by the routing issue.
"""

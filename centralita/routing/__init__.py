"""Routing: campaigns' queues, presence and capacity, assignment policies, timers and closure (built by the routing issue)."""

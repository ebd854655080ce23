"""The Twilio channel: webhook parsing and signatures, sending, delivery status, sender health.

Built by the channel issue.
"""

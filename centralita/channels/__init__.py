"""Twilio channel: webhook parsing and signatures, sending, delivery status, sender health (built by the channel issue)."""

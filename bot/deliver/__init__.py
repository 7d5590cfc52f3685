"""Delivery: the durable outbox drained to chat platforms (and the console)."""

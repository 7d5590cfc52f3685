"""Telegram adapter: HTML rendering, the delivery sink and the python-telegram-bot wiring."""

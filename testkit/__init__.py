"""Test helpers that start real servers for the test suite; not shipped in the bot package."""

"""Local stand-ins for chat platform APIs, used by the tests and demos (no network needed)."""

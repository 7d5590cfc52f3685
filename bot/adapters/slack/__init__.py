"""The Slack adapter: Bolt app, Block Kit rendering, delivery sink, Socket Mode and HTTP transports."""

"""Test helpers that start real servers for the suite and the benches (fake Bot API and Slack API,
WebSub hub, feed server with fault routes, PostgreSQL); beside the package, never in the wheel."""

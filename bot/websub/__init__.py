"""WebSub (W3C WebSub, formerly PubSubHubbub) subscriber: feeds that advertise a hub get their
new content pushed to us within seconds; polling stays on as the fallback."""

"""A topic's activity over time: the trend chart (`/trend`, `threatwatch trend`) and activity
spikes (a day well above the topic's own recent baseline)."""

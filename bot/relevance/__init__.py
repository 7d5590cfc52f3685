"""Relevance: how an article is judged against a topic (facets + trained scorer), which story it
belongs to, and the extractive summary an alert carries. Pure functions over vectors and text;
the store and the model stay outside."""

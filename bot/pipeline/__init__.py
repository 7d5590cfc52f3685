"""Pipeline stages: fetch, parse, extract, dedupe, embed, match, story, summarize."""

"""The poll cycle (cycle.py) and story linking (story_links.py): where fetched items become
stored, scored articles. The stages they run live in bot/ingest/ and bot/relevance/."""

"""Threatwatch: watches news feeds for reporting related to a seed corpus and posts explained alerts."""

__version__ = "0.1.0"

"""Command implementations: plain functions that return data or an exit code. cli.py only parses."""

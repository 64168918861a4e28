"""Alerts: the normalised Alert, parsers per monitoring tool, and JSON payload readers."""

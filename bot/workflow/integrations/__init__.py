"""Adapters playbook actions use to reach outside systems: HTTP, allow-listed commands, Zoom, Docker, MQTT."""

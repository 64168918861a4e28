"""Playbooks: the YAML format teams write their procedures in, its loader and JSON Schema, and the engine."""

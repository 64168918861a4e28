"""Operator-defined chat commands ("ChatOps"): read from YAML, run as `/incident <name>` or `@bot <name>`."""

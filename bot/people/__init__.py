"""People in an incident: the roles they hold and what they are allowed to do (pure: no I/O)."""

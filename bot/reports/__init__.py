"""Reports read from the timeline: metrics, tables, CSV and charts."""

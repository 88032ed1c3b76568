"""Statistics of tabular data versions, schema checks and drift."""

"""Optional integrations with other projects (each imports its project only when used)."""

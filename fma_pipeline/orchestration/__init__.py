"""The Dagster shell: assets, checks, resources, jobs over the pure core. Bodies stay short."""

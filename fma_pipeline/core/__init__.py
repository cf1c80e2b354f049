"""The pure core: FMA dataset knowledge, audio features and learning. Imports no Dagster."""

"""The built-in sample dataset: synthesised FMA-format clips (engine and style tables) and metadata."""

"""Software-defined assets, one module per stage."""

"""Audio: decoding, the 708 features and their windows, folder extraction, tagging new files."""

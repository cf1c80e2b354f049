"""FMA dataset knowledge: the audio layout, the metadata files, genres, download and import."""

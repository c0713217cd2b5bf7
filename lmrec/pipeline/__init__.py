"""The request pipeline: candidates -> score -> re-rank -> explore -> explain."""

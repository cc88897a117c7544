"""Data: loaders for real data formats (Ausgrid solar home data) and synthetic generators."""

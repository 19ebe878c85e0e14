"""Dataset layouts, frame-label formats and the published frame counts."""

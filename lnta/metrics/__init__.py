"""Evaluation metrics beyond the frame-level protocol (region- and track-based detection criteria)."""

"""Trainer plumbing: precision and speed settings, checkpoint IO, device slots."""

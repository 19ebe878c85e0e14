"""Intruder sources (datasets, folders, synthetic textures) and the banks that hold them."""

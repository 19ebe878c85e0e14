"""Deployment: scoring own footage, streaming, overlays, TorchScript export, converting released weights."""

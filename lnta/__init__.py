"""lnta: Learning Not to Reconstruct Anomalies (Astrid et al., BMVC 2021) with Lightning + Hydra."""

__version__ = "0.1.0"

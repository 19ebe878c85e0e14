"""The probabilistic loss switch: which samples of a batch become which pseudo anomaly."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Sequence

import torch

from lnta.errors import ConfigError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from lnta.anomaly.base import PseudoAnomaly


def assign_types(u: torch.Tensor, probs: Sequence[float]) -> torch.Tensor:
    """Type index per sample from uniform draws ``u`` in [0, 1); -1 means a normal sample.

    The enabled types occupy disjoint consecutive intervals of [0, 1): type k is chosen iff
    ``sum(probs[:k]) <= u < sum(probs[:k + 1])``, so a sample gets at most one type, and with a
    single type a sample is pseudo-anomalous iff ``u < p`` (the reference rule).
    """
    kinds = torch.full_like(u, -1, dtype=torch.long)
    low = 0.0
    for k, p in enumerate(probs):
        kinds[(u >= low) & (u < low + p)] = k
        low += p
    return kinds


def pseudo_losses(per_sample: torch.Tensor, kinds: torch.Tensor, steal_margins: Sequence[float | None]) -> torch.Tensor:
    """Per-sample losses after each type's objective; ``steal_margins[k]`` is None for the paper's loss.

    ``per_sample`` is the MSE against each sample's target (for a STEAL type the target is its own
    pseudo input). A STEAL sample's loss is ``-min(MSE, margin)``: the guard bounds the loss below
    by ``-margin`` and stops pushing once the reconstruction error of the pseudo input exceeds it.
    """
    out = per_sample
    for k, margin in enumerate(steal_margins):
        if margin is not None:
            out = torch.where(kinds == k, -per_sample.clamp(max=margin), out)
    return out


def anomalies_from_config(cfg) -> list[PseudoAnomaly]:
    """Pseudo-anomaly types from an ``anomaly`` config (a DictConfig or a dict): one type (``_target_``), several
    (``types``: name -> type), or none. Raises :class:`ConfigError` when the probabilities sum above 1 (the
    types share [0, 1) in :func:`assign_types`)."""
    import hydra

    if not cfg:
        return []
    if "_target_" not in cfg and not cfg.get("types") and cfg.get("p"):
        log.warning("anomaly=%s: anomaly.p=%s has no effect: no pseudo-anomaly type is chosen (anomaly=skip, "
                    "anomaly=patch, ...; python -m lnta.train --help lists them)", cfg.get("name"), cfg.get("p"))
    specs = {"anomaly": cfg} if "_target_" in cfg else \
        {f"anomaly.types.{name}": spec for name, spec in (cfg.get("types") or {}).items() if spec}
    anomalies = [hydra.utils.instantiate(spec, _convert_="object") for spec in specs.values()]
    total = sum(a.p for a in anomalies)
    if total > 1 + 1e-9:
        raise ConfigError(f"{' + '.join(f'{key}.p' for key in specs)} = {total:g}: expected the enabled types' p "
                          "to sum to at most 1 (one type per sample)")
    return anomalies

"""Epoch-selection protocols: which epoch's AUC a run reports.

``last`` uses no test labels (the headline); ``oracle`` picks the best epoch on the test set,
as the paper's numbers were obtained, and is for comparison only.
"""
from __future__ import annotations

PROTOCOLS = {
    "last": "last epoch (no test labels used)",
    "oracle": "best epoch on the test set (as the paper; comparison only)",
}


def select_epoch(rows: list[dict], protocol: str, key: str = "auc_micro") -> dict:
    """The row of ``rows`` (one per epoch, with ``epoch`` and ``key``) chosen by ``protocol``."""
    if not rows:
        raise ValueError("no epochs to select from")
    if protocol == "last":
        return max(rows, key=lambda r: r["epoch"])
    if protocol == "oracle":  # ties: the earliest epoch
        return max(rows, key=lambda r: (r[key], -r["epoch"]))
    raise ValueError(f"unknown selection protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")

"""The names of the ``--trials`` rows, without torch: ``python -m lnta.bench --help`` lists them and stays fast
(the measurements, :mod:`lnta.benchmark.trials`, import torch only when they run)."""
from __future__ import annotations

TRAIN_TRIALS = ("exact", "fast", "fast+compile", "fast+cl_input")
EVAL_TRIALS = ("exact", "fast", "fast+compile", "fast+compile_freezing", "fast+cl_input", "fast+jit_freeze",
               "fp32+jit_freeze")
#: ``--trials`` names: ``train:NAME`` or ``eval:NAME``; ``all`` is every one.
ALL_TRIALS = tuple(f"train:{t}" for t in TRAIN_TRIALS) + tuple(f"eval:{t}" for t in EVAL_TRIALS)


def parse_trials(spec: str) -> list[str]:
    """``all`` or a comma list of :data:`ALL_TRIALS` names -> the trials to run, in table order.
    ``train:exact`` and ``eval:exact`` are always added (the ratios are to them). Errors:
    :class:`ValueError` naming an unknown trial and listing the known ones."""
    names = ALL_TRIALS if spec.strip() == "all" else tuple(n.strip() for n in spec.split(",") if n.strip())
    unknown = [n for n in names if n not in ALL_TRIALS]
    if unknown or not names:
        raise ValueError(f"--trials {spec}: unknown trial {', '.join(unknown) or '(none given)'}; "
                         f"expected all or a comma list of {', '.join(ALL_TRIALS)}")
    wanted = set(names)
    wanted |= {f"{kind}:exact" for kind in ("train", "eval") if any(n.startswith(kind) for n in names)}
    return [n for n in ALL_TRIALS if n in wanted]


#: The matmul ladder of the bench's peaks (:func:`lnta.benchmark.suite.matmul_peak`): sides doubled from the
#: first while one call stays under the call budget (seconds), up to the last side.
LADDER_FIRST, LADDER_LAST, LADDER_CALL_S = 256, 8192, 0.5

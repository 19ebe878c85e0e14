"""Inference through ``torch.compile`` with Inductor freezing: the ``inference_compile`` setting.

Freezing treats the weights as constants when the graph is compiled: BatchNorm is folded into the
convolutions and oneDNN prepacks the weights. Measured on a 2-core native-bf16 CPU at 256²
(docs/performance.md): 7.04 vs 5.80 frames/s in testing (+21%); plain ``torch.compile`` was slower
than eager there, in training and in testing, so training never compiles.

Three things make a frozen graph unsafe to use naively, and :class:`FrozenForward` handles each:

- the weights are baked in: a change to them in place (``load_state_dict``) would be ignored, so the
  weights' storage and version counters are checked on every call and a change recompiles;
- each batch size is its own graph: a smaller batch (the last one of a test set) is padded with
  zero clips to the size already compiled and the padding's outputs dropped (clips are independent
  in eval mode), so a test compiles once instead of twice;
- Inductor needs a C++ compiler at run time (Triton on a GPU): if compiling fails, one warning is
  logged and the eager model is used from then on.

Only inference (eval mode, no autograd) goes through the graph; anything else calls the model.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import torch
from torch import nn

log = logging.getLogger("lnta.compiled")


def _inductor_freezing():
    import torch._inductor.config as inductor_config  # the documented switch, as TORCHINDUCTOR_FREEZING=1

    return inductor_config.patch(freezing=True)


def compile_failure_reason(error: BaseException) -> str:
    """One line for a failed compile: Inductor's message starts ``backend='inductor' raised:`` and puts the cause
    on the next line (e.g. ``RuntimeError: expected padding ...`` from torch 2.4's freezing of ConvTranspose3d);
    the first line that says more than that, at most 200 characters, else the exception's type."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    cause = next((line for line in lines if not line.endswith("raised:")), None)
    return cause[:200] if cause else type(error).__name__


class FrozenForward:
    """``model``'s forward for inference, compiled with Inductor freezing on the first call.

    Call it like the model: ``(B, C, T, H, W)`` clips in, their reconstruction out, under
    ``torch.inference_mode()`` or ``torch.no_grad()`` and the caller's autocast (compiled graphs
    are specialised to the autocast state they were traced under). ``compiled`` says whether the
    last call ran the compiled graph; ``compiles`` counts the compilations (a new batch size larger
    than any before, or weights changed in place). Errors: those of the model; a compilation
    failure is not one (see the module docstring).
    """

    def __init__(self, model: nn.Module):
        # Dynamo caches compiled code per forward function and guards on the module object: a new
        # model at a freed model's address must never meet that model's frozen weights.
        torch._dynamo.reset()
        self.model = model
        self.compiled = False
        self.compiles = 0
        self._graph: Callable | None = None
        self._batch = 0
        self._versions: tuple[tuple[int, int], ...] = ()
        self._failed = False

    def _weights_version(self) -> tuple[tuple[int, int], ...]:
        # storage and in-place version of each weight: a replaced tensor or load_state_dict changes one
        # (inference tensors keep no version counter; made under inference_mode, they are not loaded into)
        return tuple((t.data_ptr(), -1 if t.is_inference() else t._version)
                     for t in (*self.model.parameters(), *self.model.buffers()))

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        if self._failed or self.model.training or torch.is_grad_enabled():
            self.compiled = False
            return self.model(clips)
        n = clips.shape[0]
        fresh = self._graph is None or n > self._batch or self._weights_version() != self._versions
        if fresh:
            self._compile(max(n, self._batch))
            log.info("inference_compile: compiling the test forward (torch.compile, Inductor freezing, batch %d); "
                     "inference_compile=false skips it", self._batch)
            start = time.perf_counter()
        if n < self._batch:
            padding = clips.new_zeros((self._batch - n, *clips.shape[1:]))
            clips = torch.cat([clips, padding])
        try:
            with _inductor_freezing():
                out = self._graph(clips)
            if fresh:
                log.info("inference_compile: compiled in %.1f s", time.perf_counter() - start)
        except torch._dynamo.exc.BackendCompilerFailed as e:
            self._failed, self.compiled = True, False
            reason = compile_failure_reason(e)
            log.warning("inference_compile: torch.compile failed (%s); running the eager model instead "
                        "(inference_compile=false skips the attempt)", reason)
            return self.model(clips[:n])
        self.compiled = True
        return out[:n]

    def _compile(self, batch: int) -> None:
        if self._graph is not None:  # weights changed or a larger batch: drop the old graphs
            torch._dynamo.reset()
        self._graph = torch.compile(self.model, dynamic=False)
        self._batch = batch
        self._versions = self._weights_version()
        self.compiles += 1


def inference_forward(speed, model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The callable that tests and scores with ``model`` under ``speed``
    (:class:`lnta.trainer.precision.Speed`): a :class:`FrozenForward` where ``speed.inference_compile``,
    else the model itself."""
    return FrozenForward(model) if speed.inference_compile else model


def compiled_last(forward: Callable) -> bool:
    """Whether ``forward`` (from :func:`inference_forward`) ran a compiled graph on its last call;
    recorded as ``inference_compiled`` in metrics.json."""
    return bool(getattr(forward, "compiled", False))

"""MemAE: the reference 3D-conv autoencoder with a memory of normal latent codes between encoder and decoder.

Gong et al., "Memorizing Normality to Detect Anomaly: Memory-augmented Deep Autoencoder for
Unsupervised Anomaly Detection", ICCV 2019. Every latent position (one vector of the latent channels
per (t, y, x) of the 256x2x16x16 latent) is replaced by a convex combination of ``slots`` learned
memory items, so the decoder only sees combinations of what the memory holds. The addressing is a
softmax over slots of a similarity, hard-shrunk and L1 re-normalised (paper Eqs. 4, 7); training adds
the entropy of the addressing weights (Eq. 9) to the reconstruction MSE.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lnta.errors import ConfigError
from lnta.models.conv_ae3d import ConvAE3D

#: The ε of the shrinkage denominator and of the entropy's log (MemAE's value).
EPSILON = 1e-12
#: Addressing similarities: "dot" (the authors' released model code: z · m_i) or "cosine" (the paper's
#: Eq. 5: z · m_i / (|z| |m_i|)).
SIMILARITIES = ("dot", "cosine")


def hard_shrink(weights: torch.Tensor, threshold: float, eps: float = EPSILON) -> torch.Tensor:
    """MemAE's hard shrinkage ``relu(w - λ) · w / (|w - λ| + ε)`` (paper Eq. 7), elementwise.

    Equals ``w`` where ``w > λ`` (up to ε) and 0 elsewhere, written with ReLU so the backward pass is
    defined everywhere. ``weights`` are non-negative addressing weights of any shape.
    """
    shifted = weights - threshold
    return F.relu(shifted) * weights / (shifted.abs() + eps)


def addressing_entropy(weights: torch.Tensor, eps: float = EPSILON) -> torch.Tensor:
    """Mean entropy of addressing weights (..., N): ``-Σ_i w_i log(w_i + ε)`` over the last axis
    (slots), averaged over every other axis (positions and batch). A scalar in nats."""
    return -(weights * torch.log(weights + eps)).sum(-1).mean()


class Memory(nn.Module):
    """``slots`` memory items of ``dim`` channels, read by soft addressing.

    Input latents (B, C, T, H, W) with C = ``dim``; every position's vector z is addressed
    independently: ``w = softmax_i(sim(z, m_i))`` over the slots, then (``shrink_threshold`` > 0)
    :func:`hard_shrink` and L1 re-normalisation; the output is ``w @ M``. Returns the read latents
    (same shape and dtype as the input) and the weights (B, T, H, W, slots), which sum to 1 per
    position (or are all 0 where every weight fell below the threshold). The addressing runs in
    float32 even under autocast: bf16 keeps 3 significant digits, too few for weights near λ.
    Items start uniform in ``±1/sqrt(dim)``.
    """

    def __init__(self, slots: int, dim: int, shrink_threshold: float = 0.0025, similarity: str = "dot"):
        super().__init__()
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise ConfigError(f"model.slots={slots}: expected an integer >= 1 (memory items)")
        if isinstance(shrink_threshold, bool) or not isinstance(shrink_threshold, (int, float)) \
                or not 0 <= shrink_threshold < 1:
            raise ConfigError(f"model.shrink_threshold={shrink_threshold}: expected a value in [0, 1) "
                              "(0 turns the shrinkage off)")
        if similarity not in SIMILARITIES:
            raise ConfigError(f"model.similarity={similarity!r}: expected one of {', '.join(SIMILARITIES)}")
        self.shrink_threshold, self.similarity = float(shrink_threshold), similarity
        self.weight = nn.Parameter(torch.empty(slots, dim))
        bound = 1 / math.sqrt(dim)
        nn.init.uniform_(self.weight, -bound, bound)

    def addressing(self, z: torch.Tensor) -> torch.Tensor:
        """Weights (P, slots) of P query vectors (P, dim)."""
        memory = self.weight.float()
        if self.similarity == "cosine":
            logits = F.normalize(z, dim=1) @ F.normalize(memory, dim=1).T
        else:
            logits = z @ memory.T
        weights = torch.softmax(logits, dim=1)
        if self.shrink_threshold > 0:
            weights = F.normalize(hard_shrink(weights, self.shrink_threshold), p=1, dim=1, eps=EPSILON)
        return weights

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, t, h, w = latent.shape
        with torch.autocast(latent.device.type, enabled=False):
            flat = latent.float().movedim(1, -1).reshape(-1, c)      # (B*T*H*W, C)
            weights = self.addressing(flat)
            read = weights @ self.weight.float()
        read = read.reshape(b, t, h, w, c).movedim(-1, 1).to(latent.dtype)
        return read, weights.reshape(b, t, h, w, -1)


class MemAE(ConvAE3D):
    """MemAE (Gong et al. 2019) on the reference backbone: (B, C, T, H, W) -> (B, C, T, H, W).

    :class:`ConvAE3D`'s encoder and decoder (same layer names and indices) without the final Tanh,
    with a :class:`Memory` of ``slots`` items of the latent channel count (256 at ``width=1``; the
    latent of a 16x256x256 clip is 256x2x16x16, so 512 addressed positions per clip) between them.
    At the paper's settings it has 5,980,801 + 2000 x 256 = 6,492,801 parameters.

    Training loss: ``MSE + entropy_weight x`` :func:`addressing_entropy` of the addressing weights
    of the last forward with autograd on; the LightningModule adds :meth:`regularizer` to its loss.
    Scoring is unchanged (reconstruction PSNR). ``similarity``: see :data:`SIMILARITIES`; with
    cosine, N = 2000 and λ = 0.0025 no weight passes the shrinkage at initialisation (softmax
    weights of logits in [-1, 1] stay near 1/N), so no gradient reaches the encoder or the memory.
    """

    output_activation = None

    def __init__(self, in_channels: int = 1, width: float = 1.0, slots: int = 2000,
                 shrink_threshold: float = 0.0025, entropy_weight: float = 0.0002, similarity: str = "dot"):
        super().__init__(in_channels, width)
        if isinstance(entropy_weight, bool) or not isinstance(entropy_weight, (int, float)) or entropy_weight < 0:
            raise ConfigError(f"model.entropy_weight={entropy_weight}: expected a value >= 0")
        self.memory = Memory(slots, self.latent_channels, shrink_threshold, similarity)
        self.entropy_weight = float(entropy_weight)
        self.last_entropy: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        read, weights = self.memory(self.encoder(x))
        # with autograd on (training), keep the entropy of this batch's addressing for regularizer()
        self.last_entropy = addressing_entropy(weights) if torch.is_grad_enabled() else None
        return self.decoder(read)

    def regularizer(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(entropy_weight x entropy, {"entropy": entropy})`` of the last forward with autograd on:
        the term to add to the loss and the values to log (entropy in nats). Reading releases it."""
        if self.last_entropy is None:
            raise RuntimeError("MemAE.regularizer() needs a forward pass with autograd on first")
        entropy, self.last_entropy = self.last_entropy, None
        return self.entropy_weight * entropy, {"entropy": entropy.detach()}

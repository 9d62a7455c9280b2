"""INT8 calibration thresholds from activation histograms (symmetric: histograms of |x|).

``entropy_amax`` is TensorRT's entropy calibration (the KL-divergence search of Migacz,
"8-bit Inference with TensorRT", GTC 2017; what TAO's INT8 export used): for each candidate
threshold, clip the |x| histogram there, quantize it to ``num_quantized_bins`` levels, expand it
back, and keep the threshold whose quantized distribution diverges least from the clipped one.
``percentile_amax`` keeps the given percentile of |x|. Both take a histogram of |x| with bin
edges starting at (or near) 0, as onnxruntime's histogram collector produces.
"""

from __future__ import annotations

import numpy as np


def entropy_amax(
    hist: np.ndarray, edges: np.ndarray, num_quantized_bins: int = 128, stride: int = 1
) -> float:
    """Threshold on |x| minimising KL(clipped || quantized), TensorRT's entropy calibration.

    As TensorRT (and NVIDIA's pytorch-quantization) do: the bin at 0 is flattened to its
    neighbour (ReLU outputs put half their mass there, which would otherwise pull the
    threshold down), empty bins stay empty in the quantized distribution, and among equal
    divergences the largest threshold wins.
    """
    hist = np.asarray(hist, dtype=np.float64).copy()
    edges = np.asarray(edges, dtype=np.float64)
    n = hist.size
    if n != edges.size - 1:
        raise ValueError(f"{n} bins need {n + 1} edges, got {edges.size}")
    if n > 1:
        hist[0] = hist[1]
    if hist.sum() <= 0 or n <= num_quantized_bins:
        return float(edges[-1])
    kl = _kl_divergences(hist, num_quantized_bins, max(1, stride))
    candidates = np.arange(num_quantized_bins, n + 1, max(1, stride))
    if not np.isfinite(kl).any():
        return float(edges[-1])
    best = len(kl) - 1 - int(np.argmin(kl[::-1]))  # the largest threshold among equals
    return float(edges[candidates[best]])


def _kl_divergences(hist: np.ndarray, nq: int, stride: int) -> np.ndarray:
    """KL(p || q) for every candidate clip bin i in ``nq..n`` (step ``stride``), vectorized.

    p: the histogram clipped at bin i (outliers added to bin i-1); q: bins 0..i-1 merged into
    ``nq`` groups (bin j in group floor(j nq / i)), each group's mass spread evenly over its
    non-empty bins. Prefix sums of h, h log h and (h > 0) give every group in O(1).
    """
    n = hist.size
    total = hist.sum()
    h_log_h = np.where(hist > 0, hist * np.log(np.where(hist > 0, hist, 1.0)), 0.0)
    S = np.concatenate([[0.0], np.cumsum(hist)])
    HL = np.concatenate([[0.0], np.cumsum(h_log_h)])
    C = np.concatenate([[0.0], np.cumsum(hist > 0)])
    cand = np.arange(nq, n + 1, stride)
    g = np.arange(nq + 1)
    bounds = -(-(g[None, :] * cand[:, None]) // nq)  # ceil(g i / nq): first bin of group g
    start, end = bounds[:, :-1], bounds[:, 1:]
    sum_g = S[end] - S[start]
    cnt_g = C[end] - C[start]
    hl_g = HL[end] - HL[start]
    last = cand - 1
    h_last = hist[last]
    tail = total - S[cand]
    q_mass = S[cand]  # mass of the quantized distribution before normalisation
    with np.errstate(divide="ignore", invalid="ignore"):
        # log q of every non-empty bin of group g: log(group mass / group size / q_mass)
        log_q = np.log(np.where(cnt_g > 0, sum_g / np.maximum(cnt_g, 1), 1.0))
        log_q -= np.log(np.where(q_mass > 0, q_mass, 1.0))[:, None]
        # the last bin (always in the last group) also holds the outliers: handled apart
        sum_g[:, -1] -= h_last
        hl_g[:, -1] -= h_log_h[last]
        inner = (hl_g - sum_g * np.log(total) - np.where(sum_g > 0, sum_g * log_q, 0.0)).sum(1)
        p_last = (h_last + tail) / total
        log_p_last = np.log(np.where(p_last > 0, p_last, 1.0))
        last_term = np.where(p_last > 0, p_last * (log_p_last - log_q[:, -1]), 0.0)
    kl = inner / total + last_term
    kl[(h_last == 0) & (tail > 0)] = np.inf  # mass where q is empty
    kl[q_mass <= 0] = np.inf
    return kl


def percentile_amax(hist: np.ndarray, edges: np.ndarray, percentile: float = 99.999) -> float:
    """Smallest bin edge of the |x| histogram at or above ``percentile`` percent of the mass."""
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    hist = np.asarray(hist, dtype=np.float64)
    total = hist.sum()
    if total <= 0:
        return float(edges[-1])
    cdf = np.cumsum(hist) / total
    idx = int(np.searchsorted(cdf, percentile / 100.0 - 1e-12))
    return float(edges[min(idx + 1, len(edges) - 1)])

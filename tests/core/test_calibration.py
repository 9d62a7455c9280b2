"""INT8 calibration thresholds: TensorRT-style entropy (KL) and percentile on |x| histograms."""

from __future__ import annotations

import numpy as np
import pytest

from gaze_pipelines.core.calibration import _kl_divergences, entropy_amax, percentile_amax


def _reference_kl(hist: np.ndarray, nq: int) -> np.ndarray:
    """The textbook loop: clip at bin i, merge into nq groups, spread over non-empty bins."""
    out = []
    for i in range(nq, hist.size + 1):
        ref = hist[:i]
        p = ref.copy()
        p[-1] += hist[i:].sum()
        group = (np.arange(i) * nq) // i
        nonzero = ref != 0
        sums = np.bincount(group, weights=ref, minlength=nq)
        counts = np.bincount(group, weights=nonzero, minlength=nq)
        q = np.where(nonzero, sums[group] / np.maximum(counts[group], 1), 0.0)
        if q.sum() <= 0:
            out.append(np.inf)
            continue
        p, q = p / p.sum(), q / q.sum()
        support = p > 0
        if np.any(q[support] == 0):
            out.append(np.inf)
            continue
        out.append(float(np.sum(p[support] * np.log(p[support] / q[support]))))
    return np.array(out)


@pytest.mark.parametrize(
    "sample",
    [
        lambda r: r.standard_normal(50_000),
        lambda r: np.maximum(r.standard_normal(50_000), 0),
        lambda r: r.laplace(size=2_000),
        lambda r: r.uniform(size=300),
    ],
)
def test_vectorized_kl_equals_the_reference_loop(sample):
    hist, _ = np.histogram(np.abs(sample(np.random.default_rng(0))), bins=400)
    hist = hist.astype(np.float64)
    expected = _reference_kl(hist, 128)
    got = _kl_divergences(hist, 128, 1)
    assert np.array_equal(np.isfinite(expected), np.isfinite(got))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-9, atol=1e-12)


def test_entropy_clips_long_tails_but_not_bounded_data():
    rng = np.random.default_rng(1)
    uniform = np.abs(rng.uniform(-1, 1, 200_000))
    hist, edges = np.histogram(uniform, bins=2048)
    assert entropy_amax(hist, edges) == pytest.approx(uniform.max(), rel=1e-3)
    laplace = np.abs(rng.laplace(size=200_000))
    hist, edges = np.histogram(laplace, bins=2048)
    amax = entropy_amax(hist, edges)
    assert 0.3 * laplace.max() < amax < 0.95 * laplace.max()


def test_entropy_ignores_the_relu_spike_at_zero():
    rng = np.random.default_rng(2)
    x = np.maximum(rng.standard_normal(200_000), 0)  # half the mass exactly at 0
    hist, edges = np.histogram(x, bins=2048)
    # without flattening bin 0 the search clips near 2 sigma; TensorRT's keeps > 3.5 sigma
    assert entropy_amax(hist, edges) > 3.5


def test_percentile_amax():
    hist = np.array([50, 30, 15, 4, 1], dtype=float)
    edges = np.arange(6, dtype=float)
    assert percentile_amax(hist, edges, 95.0) == 3.0
    assert percentile_amax(hist, edges, 99.0) == 4.0
    assert percentile_amax(hist, edges, 100.0) == 5.0
    with pytest.raises(ValueError, match=r"percentile must be in \(0, 100\]"):
        percentile_amax(hist, edges, 0.0)


def test_degenerate_histograms():
    edges = np.linspace(0, 1, 11)
    assert entropy_amax(np.zeros(10), edges) == 1.0
    assert entropy_amax(np.ones(10), edges) == 1.0  # fewer bins than quantized levels
    with pytest.raises(ValueError, match="10 bins need 11 edges"):
        entropy_amax(np.ones(10), np.linspace(0, 1, 5))

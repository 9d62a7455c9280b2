"""KPI maths: per-sample errors, summaries, TAO report layout, buckets, heat maps, baseline."""

from __future__ import annotations

import numpy as np
import pytest

from gaze_pipelines.core import metrics
from gaze_pipelines.core.geometry import theta_phi_to_gaze


def test_errors_known_values():
    xyz_t = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    xyz_p = np.array([[30.0, 40.0, 0.0], [100.0, 0.0, 50.0]])
    tp_t = np.array([[0.0, 0.0], [0.1, -0.2]])
    tp_p = np.array([[0.0, np.radians(10.0)], [0.1, -0.2]])
    origin = np.array([[0.0, 0.0, -600.0], [0.0, 0.0, -600.0]])
    e = metrics.gaze_errors(
        xyz_true=xyz_t,
        xyz_pred=xyz_p,
        theta_phi_true=tp_t,
        theta_phi_pred=tp_p,
        origin=origin,
        projection_distance_mm=1000.0,
    )
    np.testing.assert_allclose(e["d_xyz_mm"], [50.0, 50.0])
    np.testing.assert_allclose(e["d_xy_mm"], [50.0, 0.0])
    np.testing.assert_allclose(e["err_x_mm"], [30.0, 0.0])
    np.testing.assert_allclose(e["angle_deg"], [10.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(e["err_phi_deg"], [10.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(e["projected_mm"][0], 2000 * np.sin(np.radians(5.0)))
    # angle of the 3D points seen from the origin: atan(50 / 600) for the first sample
    assert e["angle_3d_deg"][0] == pytest.approx(np.degrees(np.arctan(50 / 600)), rel=1e-6)


def test_phi_error_wraps():
    e = metrics.gaze_errors(
        theta_phi_true=np.array([[0.0, np.pi - 0.01]]),
        theta_phi_pred=np.array([[0.0, -np.pi + 0.01]]),
    )
    assert e["err_phi_deg"][0] == pytest.approx(np.degrees(0.02), rel=1e-6)


def test_summary_report_and_buckets():
    rng = np.random.default_rng(0)
    t = rng.uniform(-0.3, 0.3, (40, 2))
    p = t + rng.normal(0, 0.05, (40, 2))
    x = rng.normal(0, 100, (40, 3))
    e = metrics.gaze_errors(xyz_true=x, xyz_pred=x + 10.0, theta_phi_true=t, theta_phi_pred=p)
    s = metrics.summarize(e)
    assert s["n"] == 40
    assert s["d_xyz_mm_mean"] == pytest.approx(np.sqrt(300.0))
    text = metrics.format_error_report(s, "testing")
    assert "x, y, z error(cm): 1.0000, 1.0000, 1.0000" in text
    assert f"Mean d_xyz error(cm): {np.sqrt(300.0) / 10:.4f}" in text
    assert "Mean angular error(degrees)" in text and "projected error at 100cm" in text
    mask = np.arange(40) < 10
    table = metrics.bucket_summaries(e, {"all": np.ones(40, bool), "first": mask})
    assert list(table["bucket"]) == ["all", "first"]
    assert table.loc[1, "n"] == 10
    assert table.loc[1, "angle_deg_mean"] == pytest.approx(e["angle_deg"][:10].mean())


def test_mean_predictor_is_the_training_mean():
    train = np.array([[1.0, 2.0], [3.0, 6.0]])
    np.testing.assert_allclose(metrics.mean_predictor(train, 3), [[2.0, 4.0]] * 3)


def test_screen_heatmap_cells_and_figure():
    xy = np.array([[10.0, 10.0], [15.0, 12.0], [1900.0, 1070.0]])
    mean, count = metrics.screen_heatmap(xy, np.array([1.0, 3.0, 5.0]), (1920, 1080), (18, 9))
    assert mean.shape == (9, 18)
    assert mean[0, 0] == 2.0 and count[0, 0] == 2
    assert mean[8, 17] == 5.0
    assert np.isnan(mean[4, 4])
    fig = metrics.plot_heatmap(mean, count, "test", "cm", (1920, 1080))
    assert fig.axes


def test_gaze_vector_convention():
    # looking straight at the camera: g = (0, 0, -1)
    np.testing.assert_allclose(theta_phi_to_gaze(0.0, 0.0), [0.0, 0.0, -1.0], atol=1e-12)

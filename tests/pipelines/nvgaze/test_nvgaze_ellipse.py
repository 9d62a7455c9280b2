"""core.ellipse: conventions, fitting from masks, projection of 3D circles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze_pipelines.core.ellipse import (
    IRIS_BGR,
    PUPIL_BGR,
    Ellipse,
    affine_ellipse,
    colour_mask,
    ellipse_mask,
    ellipse_points,
    fit_mask_ellipse,
    fit_points,
    from_cv,
    project_circle,
    scale_ellipse,
    to_cv,
)


def _close_angle(a: float, b: float, tol: float) -> bool:
    d = abs((a - b + 90.0) % 180.0 - 90.0)
    return d <= tol


def test_make_normalises_axes_and_angle():
    e = Ellipse.make(1, 2, 10, 20, 170)
    assert (e.major, e.minor) == (20, 10)
    assert e.angle == pytest.approx(80.0)
    with pytest.raises(ValueError, match="minor axis"):
        Ellipse(0, 0, 1, 2, 0)


def test_cv_round_trip():
    e = Ellipse.make(10.5, 7.25, 30, 12, 33)
    assert from_cv(to_cv(e)) == e


@settings(max_examples=40, deadline=None)
@given(
    cx=st.floats(-50, 50),
    cy=st.floats(-50, 50),
    a=st.floats(2, 80),
    ratio=st.floats(0.2, 1.0),
    angle=st.floats(0, 179.9),
)
def test_fit_points_recovers_exact_ellipse(cx, cy, a, ratio, angle):
    e = Ellipse.make(cx, cy, a, a * ratio, angle)
    f = fit_points(ellipse_points(e, 40))
    assert f.cx == pytest.approx(cx, abs=1e-2)
    assert f.cy == pytest.approx(cy, abs=1e-2)
    assert f.major == pytest.approx(e.major, rel=1e-3, abs=1e-2)
    assert f.minor == pytest.approx(e.minor, rel=1e-3, abs=1e-2)
    if ratio < 0.95:
        assert _close_angle(f.angle, e.angle, 0.5)


@pytest.mark.parametrize("angle", [0.0, 30.0, 75.0, 120.0])
def test_fit_mask_recovers_rasterised_ellipse(angle):
    e = Ellipse.make(60.3, 47.8, 40.0, 26.0, angle)
    f = fit_mask_ellipse(ellipse_mask(e, (100, 120)))
    assert f is not None
    assert math.hypot(f.cx - e.cx, f.cy - e.cy) < 0.15
    assert f.major == pytest.approx(e.major, abs=0.4)
    assert f.minor == pytest.approx(e.minor, abs=0.4)
    assert _close_angle(f.angle, e.angle, 1.5)


def test_fit_mask_picks_largest_region_and_handles_empty():
    e = Ellipse.make(30, 30, 20, 14, 10)
    mask = ellipse_mask(e, (64, 64))
    mask[2:4, 2:4] = True  # a speck elsewhere
    f = fit_mask_ellipse(mask)
    assert f is not None and math.hypot(f.cx - 30, f.cy - 30) < 0.2
    assert fit_mask_ellipse(np.zeros((20, 20), bool)) is None


def test_colour_mask_margin():
    img = np.zeros((4, 4, 3), np.uint8)
    img[0, 0] = PUPIL_BGR
    img[1, 1] = (5, 250, 8)  # within margin 10 of pupil green
    img[2, 2] = IRIS_BGR
    m = colour_mask(img, PUPIL_BGR, margin=10)
    assert m.sum() == 2 and m[0, 0] and m[1, 1] and not m[2, 2]
    with pytest.raises(ValueError, match="HxWx3"):
        colour_mask(np.zeros((4, 4)), PUPIL_BGR)


def test_scale_and_affine_are_exact():
    e = Ellipse.make(20, 10, 16, 8, 30)
    s = scale_ellipse(e, 0.5, 0.5)
    assert s.as_tuple() == pytest.approx((10, 5, 8, 4, 30))
    a = scale_ellipse(e, 2.0, 1.0)
    pts = ellipse_points(e, 16) * [2.0, 1.0]
    assert fit_points(pts).as_tuple() == pytest.approx(a.as_tuple(), abs=1e-3)
    rot = np.array([[0.0, -1.0, 100.0], [1.0, 0.0, 0.0]])  # 90 degrees + shift
    r = affine_ellipse(e, rot)
    assert (r.cx, r.cy) == pytest.approx((90.0, 20.0), abs=1e-3)
    assert _close_angle(r.angle, 120.0, 0.1)


def test_project_circle_facing_camera_is_a_circle():
    e = project_circle(np.array([0, 0, 50.0]), np.array([0, 0, -1.0]), 5.0, 100.0, (32, 32))
    assert (e.cx, e.cy) == pytest.approx((32, 32), abs=1e-3)
    assert e.major == pytest.approx(20.0, rel=1e-3) and e.minor == pytest.approx(20.0, rel=1e-3)


def test_project_circle_tilted_foreshortens_along_tilt():
    n = np.array([math.sin(math.radians(40)), 0.0, -math.cos(math.radians(40))])
    e = project_circle(np.array([0, 0, 50.0]), n, 5.0, 100.0, (32, 32))
    assert e.minor / e.major == pytest.approx(math.cos(math.radians(40)), abs=0.03)
    assert _close_angle(e.angle, 90.0, 1.0)  # short axis along x, long axis vertical


def test_fit_mask_excludes_image_border_for_clipped_regions():
    e = Ellipse.make(40.0, 55.0, 70.0, 60.0, 0.0)  # bottom part cut off by a 64-px image
    mask = ellipse_mask(e, (64, 90))
    naive = fit_mask_ellipse(mask)
    better = fit_mask_ellipse(mask, exclude_border=True)
    assert abs(better.cy - 55.0) < 0.5 and abs(better.major - 70.0) < 1.0
    assert abs(naive.cy - 55.0) > 3.0

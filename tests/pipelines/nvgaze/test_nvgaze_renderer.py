"""synthetic.nvgaze: geometry, masks consistent with labels, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gaze_pipelines.core.ellipse import (
    EYEBALL_BGR,
    IRIS_BGR,
    PUPIL_BGR,
    SKIN_BGR,
    colour_mask,
    fit_mask_ellipse,
)
from gaze_pipelines.synthetic.nvgaze import (
    ELLIPSE_LABELS,
    Frame,
    RenderConfig,
    angular_error_deg,
    eye_geometry,
    gaze_vector,
    make_subjects,
    render_footage,
    render_frame,
    sample_frames,
    with_gaze,
)

CFG = RenderConfig(image_size=(128, 112), focal_px=110.0, supersample=1)
SUBJECT = make_subjects(1, seed=3)[0]
BASE = Frame(0.0, 0.0, 4.0, (0.0, 0.0, 0.0), blink=0.0, noise_sigma=0.0)


def _pupil(frame: Frame) -> tuple[float, float]:
    e = eye_geometry(SUBJECT, frame, CFG).pupil
    return e.cx, e.cy


def test_gaze_vector_convention():
    assert gaze_vector(0, 0) == pytest.approx([0, 0, -1])
    assert gaze_vector(30, 0)[0] > 0  # right in the image
    assert gaze_vector(0, 30)[1] < 0  # up in the image
    assert angular_error_deg(np.array([10.0, 0.0]), np.array([0.0, 0.0])) == pytest.approx(10.0)
    assert angular_error_deg(np.array([[0, 5.0]]), np.array([[0, -5.0]]))[0] == pytest.approx(10.0)


@pytest.mark.parametrize("axis", ["x", "y"])
def test_pupil_moves_the_right_way_with_gaze(axis):
    xs, ys = [], []
    for g in (-20.0, -10.0, 0.0, 10.0, 20.0):
        fr = with_gaze(BASE, g, 0.0) if axis == "x" else with_gaze(BASE, 0.0, g)
        x, y = _pupil(fr)
        xs.append(x)
        ys.append(y)
    if axis == "x":
        assert np.all(np.diff(xs) > 1.0)  # looking right moves the pupil right
        assert np.ptp(ys) < 0.2 * np.ptp(xs)
    else:
        assert np.all(np.diff(ys) < -1.0)  # looking up moves the pupil up (smaller y)
        assert np.ptp(xs) < 0.2 * np.ptp(ys)


def test_pupil_ellipse_foreshortens_with_eccentric_gaze():
    e0 = eye_geometry(SUBJECT, BASE, CFG).pupil
    e1 = eye_geometry(SUBJECT, with_gaze(BASE, 30.0, 0.0), CFG).pupil
    assert e1.minor / e1.major < e0.minor / e0.major - 0.05
    # the short axis points along the direction of rotation (x): the long axis is vertical
    assert abs((e1.angle - 90.0 + 90.0) % 180.0 - 90.0) < 10.0


def test_slippage_shifts_the_eye_not_the_gaze():
    a = _pupil(BASE)
    b = _pupil(Frame(0.0, 0.0, 4.0, (2.0, 0.0, 0.0), blink=0.0))
    assert b[0] - a[0] > 3.0


def test_bigger_pupil_bigger_ellipse():
    small = eye_geometry(SUBJECT, Frame(0, 0, 2.0, (0, 0, 0), 0.0), CFG).pupil
    big = eye_geometry(SUBJECT, Frame(0, 0, 6.0, (0, 0, 0), 0.0), CFG).pupil
    assert big.major == pytest.approx(3 * small.major, rel=0.05)


@pytest.mark.parametrize(("gx", "gy"), [(0.0, 0.0), (22.0, -8.0), (-25.0, 12.0)])
def test_ellipse_fit_recovers_rendered_ellipses(gx, gy):
    frame = with_gaze(BASE, gx, gy)
    out = render_frame(SUBJECT, frame, CFG)
    geo = eye_geometry(SUBJECT, frame, CFG)
    pupil = fit_mask_ellipse(colour_mask(out.mask_withoutskin, PUPIL_BGR))
    assert pupil is not None
    assert math.hypot(pupil.cx - geo.pupil.cx, pupil.cy - geo.pupil.cy) < 0.3
    assert pupil.major == pytest.approx(geo.pupil.major, abs=0.6)
    assert pupil.minor == pytest.approx(geo.pupil.minor, abs=0.6)
    iris_region = colour_mask(out.mask_withoutskin, IRIS_BGR) | colour_mask(
        out.mask_withoutskin, PUPIL_BGR
    )
    iris = fit_mask_ellipse(iris_region)
    assert math.hypot(iris.cx - geo.iris.cx, iris.cy - geo.iris.cy) < 0.5
    assert iris.major == pytest.approx(geo.iris.major, abs=1.0)


def test_masks_and_image_agree():
    out = render_frame(SUBJECT, BASE, CFG)
    assert out.image.shape == (112, 128) and out.image.dtype == np.uint8
    pupil = colour_mask(out.mask_withoutskin, PUPIL_BGR)
    sclera = colour_mask(out.mask_withoutskin, EYEBALL_BGR)
    assert pupil.sum() > 20 and sclera.sum() > 100
    # infrared dark pupil: the pupil region is much darker than the sclera
    assert out.image[pupil].mean() < out.image[sclera].mean() - 60
    # the skin-less mask shows the whole eyeball, the skin mask hides its top and bottom
    skin = colour_mask(out.mask_withskin, SKIN_BGR)
    assert skin.sum() > 0 and not np.any(colour_mask(out.mask_withoutskin, SKIN_BGR))


def test_blink_covers_the_pupil_with_skin():
    closed = render_frame(SUBJECT, Frame(0, 0, 4.0, (0, 0, 0), blink=1.0, noise_sigma=0), CFG)
    pupil_visible = colour_mask(closed.mask_withskin, PUPIL_BGR).sum()
    pupil_behind = colour_mask(closed.mask_withoutskin, PUPIL_BGR).sum()
    assert pupil_behind > 20 and pupil_visible < 0.1 * pupil_behind


def test_render_is_deterministic_and_sampled_frames_cover_ranges():
    a = render_frame(SUBJECT, sample_frames(1, CFG, seed=5)[0], CFG)
    b = render_frame(SUBJECT, sample_frames(1, CFG, seed=5)[0], CFG)
    assert np.array_equal(a.image, b.image) and a.labels == b.labels
    frames = sample_frames(300, CFG, seed=1)
    gx = np.array([f.gaze_x_deg for f in frames])
    assert gx.min() < -25 and gx.max() > 25
    assert any(f.blink > 0.4 for f in frames)


def test_footage_table_with_and_without_ellipse_labels():
    with_labels = render_footage(SUBJECT, 3, CFG, seed=2)
    without = render_footage(SUBJECT, 3, CFG, seed=2, include_ellipse_labels=False)
    assert set(ELLIPSE_LABELS) <= set(with_labels.table.columns)
    assert not set(ELLIPSE_LABELS) & set(without.table.columns)
    assert {"archive", "image_L_0", "regionmask_withskin_L_0", "float_gaze_x_degree"} <= set(
        without.table.columns
    )
    frame = with_labels.render(1)
    assert frame.labels["float_pupil_x"] == pytest.approx(with_labels.table.at[1, "float_pupil_x"])


def test_config_validation():
    with pytest.raises(ValueError, match="image_size"):
        RenderConfig(image_size=(8, 8))
    with pytest.raises(ValueError, match="pupil_diameter_mm"):
        RenderConfig(pupil_diameter_mm=(5.0, 2.0))

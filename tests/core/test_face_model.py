"""The generic 3D face model: layout, proportions, axes, per-user deformation."""

from __future__ import annotations

import numpy as np
import pytest

from gaze_pipelines.core import face_model as fm

# Mirror pairs of the 68-point layout (subject's right <-> left).
MIRROR = (
    [(i, 16 - i) for i in range(8)]
    + [(17 + i, 26 - i) for i in range(5)]
    + [(31, 35), (32, 34)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    + [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
)


def test_layout_and_symmetry():
    g = fm.GENERIC_FACE_68
    assert g.shape == (68, 3)
    assert not g.flags.writeable
    for a, b in MIRROR:
        np.testing.assert_allclose(g[a], g[b] * [-1, 1, 1], atol=1e-9, err_msg=f"{a} vs {b}")
    for i in (8, *range(27, 31), 33, 51, 57, 62, 66):
        assert g[i, 0] == 0.0


def test_axes_and_proportions():
    g = fm.GENERIC_FACE_68
    # x toward the subject's left: right eye (36-41) has negative x, image-left for a frontal face.
    assert g[36, 0] < g[39, 0] < 0 < g[42, 0] < g[45, 0]
    ipd = np.linalg.norm(fm.EYEBALL_CENTRES[1] - fm.EYEBALL_CENTRES[0])
    assert ipd == pytest.approx(63.0)
    # y down: brows above the eyes, nose tip, mouth ~70 mm and chin ~115 mm below the eye line.
    assert g[17:27, 1].max() < g[36:48, 1].min()
    assert 65 <= g[[48, 54], 1].mean() <= 75
    assert 105 <= g[8, 1] <= 125
    # z into the head: the nose tip protrudes 20-25 mm, the jaw has depth behind the eyes.
    assert -25 <= g[30, 2] <= -20 and g[30, 2] == g[:, 2].min()
    assert g[0, 2] > 40 and g[16, 2] > 40
    # Origin between the eyes.
    np.testing.assert_allclose(fm.EYEBALL_CENTRES[:, :2].mean(axis=0), [0, 0], atol=1e-9)
    # Eyeball centres one radius (12 mm) behind the corneal apex, which sits near the lids.
    apex_z = fm.EYEBALL_CENTRES[:, 2] - fm.EYEBALL_RADIUS
    assert np.all(np.abs(apex_z - g[[37, 38, 43, 44], 2].mean()) < 3.0)
    assert fm.PUPIL_RADIUS < fm.IRIS_RADIUS < fm.EYEBALL_RADIUS


def test_index_constants_and_face_centre():
    assert fm.RIGHT_EYE_CORNERS == (36, 39)
    assert fm.LEFT_EYE_CORNERS == (42, 45)
    assert fm.MOUTH_CORNERS == (48, 54)
    g = fm.GENERIC_FACE_68
    expected = g[[36, 39, 42, 45, 48, 54]].mean(axis=0)
    np.testing.assert_allclose(fm.face_centre(g), expected)
    batch = np.stack([g, g + 1.0])
    np.testing.assert_allclose(fm.face_centre(batch), [expected, expected + 1.0])
    np.testing.assert_allclose(fm.face_centre(g[:, :2]), expected[:2])  # 2D landmarks too


def test_generic_shape_is_identity():
    face = fm.deform_face(fm.UserShape())
    np.testing.assert_allclose(face.landmarks, fm.GENERIC_FACE_68)
    np.testing.assert_allclose(face.eyeball_centres, fm.EYEBALL_CENTRES)
    assert face.eyeball_radius == fm.EYEBALL_RADIUS


def test_user_shape_is_deterministic_and_varies():
    a = fm.UserShape.sample(np.random.default_rng(5))
    b = fm.UserShape.sample(np.random.default_rng(5))
    c = fm.UserShape.sample(np.random.default_rng(6))
    assert a == b and a != c
    shapes = [fm.UserShape.sample(np.random.default_rng(i)) for i in range(50)]
    for name, lo, hi in [("width", 0.94, 1.06), ("depth", 0.9, 1.1), ("iris_radius", 5.4, 6.6)]:
        values = np.array([getattr(s, name) for s in shapes])
        assert values.min() >= lo and values.max() <= hi and values.std() > 0


def test_deformation_moves_the_right_parts():
    wide = fm.deform_face(fm.UserShape(eye_spacing=1.1))
    ipd = np.linalg.norm(wide.eyeball_centres[1] - wide.eyeball_centres[0])
    assert ipd == pytest.approx(63.0 * 1.1)
    np.testing.assert_allclose(wide.landmarks[27:36], fm.GENERIC_FACE_68[27:36])  # nose stays
    eye_width = wide.landmarks[39, 0] - wide.landmarks[36, 0]
    assert eye_width == pytest.approx(fm.GENERIC_FACE_68[39, 0] - fm.GENERIC_FACE_68[36, 0])
    deep = fm.deform_face(fm.UserShape(depth=1.1, eyeball_radius=12.5))
    assert deep.landmarks[30, 2] == pytest.approx(fm.GENERIC_FACE_68[30, 2] * 1.1)
    apex = deep.eyeball_centres[:, 2] - deep.eyeball_radius
    np.testing.assert_allclose(apex, (fm.EYEBALL_CENTRES[:, 2] - fm.EYEBALL_RADIUS) * 1.1)

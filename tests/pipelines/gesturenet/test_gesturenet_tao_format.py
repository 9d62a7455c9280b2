"""TAO GestureNet annotation parser: every reject code, rotation, aliases; hypothesis fuzzing."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze_pipelines.pipelines.gesturenet.tao_format import (
    REJECT_CODES,
    AnnotationError,
    matches_filter,
    normalize_label,
    parse_annotation,
)

CLASSES = ("thumbs_up", "fist", "stop", "ok", "two", "random")


def doc(
    label="thumbs_up",
    x=10.0,
    y=20.0,
    w=30.0,
    h=40.0,
    size=(200, 100),
    extra=(),
    key="completions",
    rotation=0,
):
    result = [
        {"type": "choices", "from_name": "gesture", "value": {"choices": [label]}},
        {
            "type": "rectanglelabels",
            "original_width": size[0],
            "original_height": size[1],
            "value": {
                "x": x,
                "y": y,
                "width": w,
                "height": h,
                "rotation": rotation,
                "rectanglelabels": ["hand"],
            },
        },
        *extra,
    ]
    return {"data": {"image": "a.png", "camera": "c920"}, key: [{"result": result}]}


def test_valid_annotation_in_pixels_with_metadata():
    extra = [{"type": "choices", "from_name": "location", "value": {"choices": ["outdoor"]}}]
    a = parse_annotation(doc(extra=extra), CLASSES, (200, 100))
    assert a.label == "thumbs_up"
    assert a.box == pytest.approx((20.0, 20.0, 80.0, 60.0))
    assert a.metadata == {"camera": "c920", "location": "outdoor"}


def test_label_studio_annotations_key_and_labels_normalized():
    a = parse_annotation(doc(label="Thumbs-Up", key="annotations"), CLASSES)
    assert a.label == "thumbs_up"
    assert normalize_label("OK", {"OK": "ok"}) == "ok"
    assert (
        parse_annotation(doc(label="peace"), CLASSES, class_aliases={"peace": "two"}).label == "two"
    )


def test_rotated_box_becomes_its_axis_aligned_hull():
    a = parse_annotation(doc(x=50, y=50, w=10, h=10, size=(100, 100), rotation=90), CLASSES)
    # 90 degrees clockwise about the top-left corner (50, 50): spans x 40..50, y 50..60
    assert a.box == pytest.approx((40.0, 50.0, 50.0, 60.0))


def test_class_found_by_value_when_from_name_is_unknown():
    d = doc()
    d["completions"][0]["result"][0]["from_name"] = "hand_gesture"
    assert parse_annotation(d, CLASSES).label == "thumbs_up"


CASES = {
    "bad_json": [1, 2],
    "no_completion": {"completions": []},
    "no_gesture": {"completions": [{"result": [doc()["completions"][0]["result"][1]]}]},
    "unknown_class": doc(label="waving"),
    "no_box": {"completions": [{"result": [doc()["completions"][0]["result"][0]]}]},
    "multiple_boxes": {
        "completions": [
            {"result": doc()["completions"][0]["result"] + [doc()["completions"][0]["result"][1]]}
        ]
    },
    "bad_box": doc(w=0),
    "box_outside": doc(x=90, w=30),
    "size_mismatch": doc(size=(640, 480)),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_problem_has_its_reject_code(code):
    with pytest.raises(AnnotationError) as info:
        parse_annotation(CASES[code], CLASSES, (200, 100))
    assert info.value.code == code
    assert info.value.reason.startswith(f"{code}: ") and len(info.value.reason) > len(code) + 2
    assert code in REJECT_CODES


def test_slightly_outside_box_is_clipped():
    a = parse_annotation(doc(x=-0.5, w=20.0), CLASSES, (200, 100))
    assert a.box[0] == 0.0


def test_feature_filters():
    meta = {"location": "Outdoor", "lighting": "dim"}
    assert matches_filter(meta, {"location": "outdoor"})
    assert matches_filter(meta, {"location": ["indoor", "outdoor"], "lighting": "dim"})
    assert not matches_filter(meta, {"location": "outdoor", "lighting": "bright"})
    assert not matches_filter(meta, {"camera": "c920"})


@settings(max_examples=80, deadline=None)
@given(
    label=st.sampled_from(CLASSES),
    x=st.floats(0, 90),
    y=st.floats(0, 90),
    w=st.floats(1, 10),
    h=st.floats(1, 10),
    width=st.integers(200, 4000),
    height=st.integers(200, 4000),
)
def test_round_trip_percent_boxes(label, x, y, w, h, width, height):
    a = parse_annotation(
        json.loads(json.dumps(doc(label, x, y, w, h, (width, height)))), CLASSES, (width, height)
    )
    assert a.label == label
    assert a.box[0] == pytest.approx(x * width / 100) and a.box[2] == pytest.approx(
        (x + w) * width / 100
    )
    assert a.box[1] == pytest.approx(y * height / 100) and a.box[3] == pytest.approx(
        (y + h) * height / 100
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_garbage_only_raises_annotation_errors(value):
    try:
        parse_annotation(value, CLASSES, (200, 100))
    except AnnotationError as exc:
        assert exc.code in REJECT_CODES


@settings(max_examples=100, deadline=None)
@given(
    path=st.lists(
        st.sampled_from(
            [
                "completions",
                0,
                "result",
                0,
                1,
                "value",
                "x",
                "width",
                "choices",
                "original_width",
                "type",
            ]
        ),
        min_size=1,
        max_size=5,
    ),
    junk=json_values,
)
def test_mutated_annotations_only_raise_annotation_errors(path, junk):
    d = copy.deepcopy(doc())
    node = d
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    try:
        node[path[-1]] = junk
    except (IndexError, TypeError):
        return
    try:
        parse_annotation(d, CLASSES, (200, 100))
    except AnnotationError as exc:
        assert exc.code in REJECT_CODES

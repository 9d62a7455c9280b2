"""datasets.nvgaze_footage: typed CSV parsing, footage folders written and read back."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kedro.io.core import DatasetError

from gaze_pipelines.datasets.nvgaze_footage import (
    CSV_NAME,
    ImageFolderDataset,
    NvGazeFootageDataset,
    column_type,
    format_footage_csv,
    parse_footage_csv,
)
from gaze_pipelines.synthetic.nvgaze import RenderConfig, make_subjects, render_footage

CFG = RenderConfig(image_size=(48, 40), focal_px=40.0, supersample=1)


def test_column_types_from_prefix():
    assert column_type("float_gaze_x_degree") == "float"
    assert column_type("double_t") == "float"
    assert column_type("int_frame") == "int"
    assert column_type("bool_blink") == "bool"
    assert column_type("string_eye") == "string"
    assert column_type("archive") == "string"
    assert column_type("image_L_0") == "string"


def test_parse_typed_table_with_missing_values():
    text = (
        "archive,image_L_0,float_pupil_x,int_frame,bool_ok,string_eye,\n"
        "a.zip,x.png,1.5,3,True,L,\n"
        "a.zip,y.png,,4.0,0,R,\n"
        "\n"
    )
    t = parse_footage_csv(text)
    assert list(t.columns) == [
        "archive",
        "image_L_0",
        "float_pupil_x",
        "int_frame",
        "bool_ok",
        "string_eye",
    ]
    assert t["float_pupil_x"].iloc[0] == 1.5 and np.isnan(t["float_pupil_x"].iloc[1])
    assert t["int_frame"].tolist() == [3, 4]
    assert t["bool_ok"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("float_a,float_a\n1,2\n", "duplicate"),
        ("float_a\nabc\n", "line 2, column 'float_a'"),
        ("bool_a\nmaybe\n", "not a boolean"),
    ],
)
def test_parse_errors_name_the_cell(text, match):
    with pytest.raises(DatasetError, match=match):
        parse_footage_csv(text)


@settings(max_examples=40, deadline=None)
@given(
    floats=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=6
    ),
    words=st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=8),
)
def test_format_parse_round_trip(floats, words):
    n = len(floats)
    table = pd.DataFrame(
        {
            "archive": ["arch.zip"] * n,
            "string_note": [words] * n,
            "float_value": floats,
            "int_frame": list(range(n)),
        }
    )
    back = parse_footage_csv(format_footage_csv(table))
    assert back["float_value"].tolist() == floats
    assert back["int_frame"].tolist() == list(range(n))
    assert back["string_note"].tolist() == [words.strip()] * n


def test_footage_dataset_save_and_load(tmp_path):
    subject = make_subjects(1, seed=0)[0]
    footage = render_footage(subject, 3, CFG, seed=1)
    ds = NvGazeFootageDataset(path=str(tmp_path / "raw"))
    assert not ds.exists()
    ds.save({"f1": footage, "f2": render_footage(subject, 2, CFG, seed=2)})
    folder = tmp_path / "raw" / "f1"
    assert (folder / CSV_NAME).is_file()
    with zipfile.ZipFile(folder / "footage_image_data.zip") as zf:
        assert len(zf.namelist()) == 9
    loaded = ds.load()
    assert sorted(loaded) == ["f1", "f2"]
    raw = loaded["f1"]
    assert len(raw) == 3
    np.testing.assert_allclose(raw.table["float_pupil_x"], footage.table["float_pupil_x"])
    img = raw.read_image(raw.table.at[0, "archive"], raw.table.at[0, "image_L_0"])
    assert img.shape == (40, 48) and np.array_equal(img, footage.render(0).image)
    mask = raw.read_image(
        "footage_image_data.zip", raw.table.at[0, "regionmask_withskin_L_0"], colour=True
    )
    assert mask.shape == (40, 48, 3)
    with pytest.raises(KeyError):
        raw.read_image("footage_image_data.zip", "missing.png")
    raw.close()
    # one footage folder given directly
    single = NvGazeFootageDataset(path=str(folder)).load()
    assert list(single) == ["f1"]
    # re-saving replaces the folder atomically, without leftovers
    ds.save({"f1": render_footage(subject, 2, CFG, seed=3)})
    assert len(NvGazeFootageDataset(path=str(folder)).load()["f1"]) == 2
    assert not [p for p in (tmp_path / "raw").iterdir() if p.name.startswith(".")]


def test_footage_dataset_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no footage_description.csv"):
        NvGazeFootageDataset(path=str(tmp_path / "empty")).load()
    with pytest.raises(DatasetError, match="does not exist"):
        NvGazeFootageDataset(path=str(tmp_path / "nope")).load()


def test_image_folder_skimage_offline():
    files = ImageFolderDataset(path=None).load()
    assert sorted(ImageFolderDataset(path="/nowhere/skimage").load()) == sorted(files)
    assert any(name.endswith("camera.png") for name in files)
    img = files[next(n for n in files if n.endswith("camera.png"))]()
    assert img.ndim == 2 and img.dtype == np.uint8

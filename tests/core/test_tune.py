"""core.tune: search spaces from parameters, config application, a tiny local ASHA sweep."""

from __future__ import annotations

import math

import pytest

ray = pytest.importorskip("ray", reason="Ray Tune is the `tune` extra")  # installed by make test

from gaze_pipelines.core.tune import (  # noqa: E402
    SweepSettings,
    apply_config,
    best_params_tree,
    build_search_space,
    check_paths,
    run_sweep,
)


def test_search_space_types_map_to_ray_domains():
    from ray.tune.search.sample import Categorical, Float, Integer

    space = build_search_space({
        "a": {"type": "choice", "values": [1, 2]},
        "b": {"type": "loguniform", "lower": 1e-4, "upper": 1e-2},
        "c": {"type": "randint", "lower": 1, "upper": 4},
        "d": {"type": "uniform", "lower": 0, "upper": 1},
        "e": {"type": "quniform", "lower": 0, "upper": 1, "q": 0.25},
        "f": {"type": "lograndint", "lower": 1, "upper": 64},
        "g": {"type": "randn", "mean": 0, "sd": 1},
        "h": {"type": "grid", "values": ["x", "y"]},
    })  # fmt: skip
    assert isinstance(space["a"], Categorical) and isinstance(space["b"], Float)
    assert isinstance(space["c"], Integer) and space["c"].lower == 1 and space["c"].upper == 4
    assert "LogUniform" in type(space["b"].sampler).__name__
    assert space["h"] == {"grid_search": ["x", "y"]}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "normal"}, r"search_space\.k\.type: must be one of"),
        ({"type": "choice"}, r"search_space\.k: type 'choice' needs values"),
        ({"type": "choice", "values": []}, r"non-empty list"),
        ({"type": "loguniform", "lower": 0, "upper": 1}, r"needs lower > 0"),
        ({"type": "uniform", "lower": 2, "upper": 1}, r"lower \(2\) must be < upper \(1\)"),
        ({"type": "quniform", "lower": 0, "upper": 1}, r"needs q"),
    ],
)
def test_bad_search_space_names_the_key(spec, message):
    with pytest.raises(ValueError, match=message):
        build_search_space({"k": spec})


def test_config_application_and_best_params_tree():
    base = {"train": {"lr": 0.1, "epochs": 3}, "models": {"full": {"face": {"n": 8}}}}
    out = apply_config(base, {"train.lr": 0.01, "models.full.face.n": 16})
    assert out["train"] == {"lr": 0.01, "epochs": 3} and out["models"]["full"]["face"]["n"] == 16
    assert base["train"]["lr"] == 0.1  # the base is not modified
    tree = best_params_tree("webcam", {"train.lr": 0.01, "models.full.face.n": 16})
    assert tree == {"webcam": {"models": {"full": {"face": {"n": 16}}}, "train": {"lr": 0.01}}}
    check_paths(base, ["train.lr"], "webcam")
    with pytest.raises(ValueError, match=r"'webcam\.train\.momentum' is not a parameter"):
        check_paths(base, ["train.momentum"], "webcam")


def _toy_trainable():
    # Defined in a closure so Ray pickles it by value (test modules are not importable there).
    def trainable(params, data, report):
        x, width = params["train"]["x"], params["model"]["width"]
        if width == 3:
            raise ValueError("width 3 is not allowed")
        for epoch in range(params["train"]["epochs"]):
            report({"val_loss": (x - data["optimum"]) ** 2 + 1.0 / (epoch + 1) + 0.01 * width,
                    "epoch": epoch + 1})  # fmt: skip

    return trainable


@pytest.mark.tune
def test_tiny_local_asha_sweep(tmp_path):
    settings = SweepSettings(epochs=4, num_samples=8, seed=3, num_cpus=2,
                             storage_path=str(tmp_path / "runs"), name="toy")  # fmt: skip
    result = run_sweep(
        _toy_trainable(), {"optimum": 0.25},
        {"train": {"x": 0.0, "epochs": 4}, "model": {"width": 1}},
        {"train.x": {"type": "uniform", "lower": -1, "upper": 1},
         "model.width": {"type": "choice", "values": [1, 2, 3]}},
        settings,
    )  # fmt: skip
    trials = result.trials
    assert len(trials) == 8 and trials["rank"].tolist() == list(range(1, 9))
    # Invalid configurations become worst-ranked trials, not a crashed sweep.
    invalid = trials[trials["config/model.width"] == 3]
    assert (invalid["best_val_loss"] == math.inf).all()
    assert invalid["invalid_config"].str.contains("width 3").all()
    valid = trials[trials["config/model.width"] != 3]
    assert valid["best_val_loss"].map(math.isfinite).all()
    # ASHA with grace_period 1 and reduction factor 2 stops the weaker half early.
    assert valid["iterations"].max() == 4
    assert (valid["iterations"] < 4).any()
    best = valid.iloc[0]
    assert result.best_config == {"train.x": best["config/train.x"],
                                  "model.width": best["config/model.width"]}  # fmt: skip
    expected = (best["config/train.x"] - 0.25) ** 2 + 0.25 + 0.01 * best["config/model.width"]
    assert result.best_metric == pytest.approx(expected)
    assert not ray.is_initialized()  # the local Ray we started is shut down
    assert any((tmp_path / "runs").iterdir())

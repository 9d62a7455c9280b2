"""Classification KPIs (core.metrics) and the GestureNet evaluation node."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaze_pipelines.core.metrics import (
    classification_report,
    confusion_matrix,
    plot_confusion_matrix,
)
from gaze_pipelines.pipelines.gesturenet.nodes_evaluate import evaluate_predictions

NAMES = ["thumbs_up", "fist", "stop", "ok", "two", "random"]


def test_confusion_matrix_and_report_by_hand():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 1, 0]
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    rep = classification_report(cm, ["a", "b", "c"]).set_index("class")
    assert rep.loc["a", "precision"] == pytest.approx(2 / 3) and rep.loc[
        "a", "recall"
    ] == pytest.approx(2 / 3)
    assert rep.loc["b", "precision"] == pytest.approx(2 / 3) and rep.loc[
        "b", "recall"
    ] == pytest.approx(1.0)
    assert rep.loc["c", ["precision", "recall", "f1"]].tolist() == [
        0.0,
        0.0,
        0.0,
    ]  # never predicted
    assert rep.loc["macro avg", "f1"] == pytest.approx((2 / 3 + 0.8 + 0.0) / 3)
    assert rep.loc["accuracy", "f1"] == pytest.approx(4 / 6)
    assert rep.loc["weighted avg", "recall"] == pytest.approx(4 / 6)  # weighted recall == accuracy
    with pytest.raises(ValueError, match="class indices"):
        confusion_matrix([0, 3], [0, 1], 3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=60))
def test_report_matches_the_definitions(pairs):
    y_true, y_pred = map(np.array, zip(*pairs, strict=True))
    rep = classification_report(confusion_matrix(y_true, y_pred, 5), list("abcde")).set_index(
        "class"
    )
    for k, name in enumerate("abcde"):
        tp = np.sum((y_true == k) & (y_pred == k))
        p = tp / np.sum(y_pred == k) if np.any(y_pred == k) else 0.0
        r = tp / np.sum(y_true == k) if np.any(y_true == k) else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        assert rep.loc[name, ["precision", "recall", "f1"]].tolist() == pytest.approx([p, r, f])
    assert rep.loc["accuracy", "f1"] == pytest.approx(np.mean(y_true == y_pred))


def test_evaluate_node_outputs():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(6), 10)
    pred = np.where(rng.random(60) < 0.8, truth, rng.integers(0, 6, 60))
    predictions = pd.DataFrame(
        {
            "user_id": np.where(np.arange(60) % 2, "uid_7", "uid_8"),
            "class_id": truth,
            "pred_id": pred,
            "class": [NAMES[i] for i in truth],
            "confidence": rng.random(60),
        }
    )
    report, cm, fig, by_user, kpis = evaluate_predictions(predictions, {}, {})
    assert cm.columns.tolist() == ["true", *NAMES] and cm[NAMES].to_numpy().sum() == 60
    assert kpis["accuracy"] == pytest.approx(np.mean(truth == pred)) and set(
        kpis["per_class_f1"]
    ) == set(NAMES)
    assert by_user.set_index("user_id")["n"].to_dict() == {"uid_7": 30, "uid_8": 30}
    assert len(fig.axes) == 2  # matrix and colour bar
    assert plot_confusion_matrix(np.eye(2), ["x", "y"]).axes[0].get_title() == "confusion matrix"

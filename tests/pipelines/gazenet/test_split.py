"""TAO's user split, reproduced exactly."""

from gaze_pipelines.pipelines.gazenet.nodes_data import tao_split


def test_tao_documented_split():
    users = ["p01-0", "p01-1", "p01-2", "p01-3", "p01-4"]
    split = tao_split(users, kpi=False)
    assert split == {"test": ["p01-1"], "validate": ["p01-0"], "train": ["p01-4", "p01-3", "p01-2"]}


def test_split_is_order_independent_and_disjoint():
    users = [f"u{i:02d}" for i in range(17)]
    a = tao_split(users, kpi=False)
    b = tao_split(list(reversed(users)), kpi=False)
    assert a == b
    assert len(a["test"]) == len(a["validate"]) == 17 // 8
    assert sorted(a["test"] + a["validate"] + a["train"]) == sorted(users)


def test_kpi_set_puts_everyone_in_test():
    users = ["a", "b", "c"]
    assert tao_split(users, kpi=True) == {
        "test": tao_split(users, True)["test"],
        "validate": [],
        "train": [],
    }
    assert sorted(tao_split(users, kpi=True)["test"]) == users


def test_split_does_not_disturb_global_random_state():
    import random

    random.seed(123)
    expected = random.random()
    random.seed(123)
    tao_split(["a", "b"], kpi=False)
    assert random.random() == expected

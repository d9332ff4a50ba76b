"""Tests of 3.4's offline recommender (recommender.py): the metrics
against cases computed by hand, the data set's known structure, a time
split that never leaks the future, the collaborative models beating the
popularity baseline, a pickle running code on load, and the arrays-and-
JSON format that does not."""

import math
import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest
from recommender import (
    CUTOFF_DAY,
    N_ITEMS,
    ItemKnn,
    K,
    Payload,
    Popularity,
    Svd,
    evaluate,
    generate,
    genre_of_item,
    genre_of_user,
    load_arrays,
    matrix,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    recommend,
    save_arrays,
    time_split,
)
from sklearn.metrics import ndcg_score  # type: ignore[import-untyped]

DATA = generate()
TRAIN, TEST = time_split(DATA, CUTOFF_DAY)
M = matrix(TRAIN)


# ANCHOR: metric_tests
def test_metrics_on_a_case_worked_by_hand() -> None:
    # Ranked [a, b, c, d, e] = [1, 2, 3, 4, 5]; relevant {2, 4, 9}.
    # Top 5 hits: 2 (position 2) and 4 (position 4).
    ranked, relevant = [1, 2, 3, 4, 5], {2, 4, 9}
    assert precision_at_k(ranked, relevant, 5) == 2 / 5
    assert recall_at_k(ranked, relevant, 5) == 2 / 3
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # 0.6309 + 0.4307
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # three hits first
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx(0.4982, abs=1e-4)


def test_metric_edges() -> None:
    assert ndcg_at_k([7, 8], {7, 8}, 2) == 1.0  # perfect order
    assert ndcg_at_k([8, 7], {7, 8}, 2) == 1.0  # both hits, any order
    assert ndcg_at_k([1, 7], {7}, 2) == pytest.approx(1 / math.log2(3))
    # Fewer recommendations than k: precision still divides by k.
    assert precision_at_k([7], {7}, 10) == 0.1
    # Only the first k count.
    assert recall_at_k([1, 2, 7], {7}, 2) == 0.0
    with pytest.raises(ValueError, match="undefined"):
        recall_at_k([1], set(), 5)
    with pytest.raises(ValueError, match="relevant items"):
        ndcg_at_k([1], set(), 5)


# ANCHOR_END: metric_tests


def test_a_cutoff_below_one_is_an_error() -> None:
    for k in (0, -1):
        with pytest.raises(ValueError, match="at least 1"):
            precision_at_k([7], {7}, k)
        with pytest.raises(ValueError, match="at least 1"):
            ndcg_at_k([7], {7}, k)


def test_ndcg_agrees_with_scikit_learn() -> None:
    # ndcg_score takes a relevance and a score per item: give the ranked
    # items falling scores, and the relevant item 9, never recommended,
    # the lowest, so that it counts in the ideal but not in the top 5.
    items = [1, 2, 3, 4, 5, 9]
    relevance = [[1.0 if i in {2, 4, 9} else 0.0 for i in items]]
    scores = [[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]]
    expected = ndcg_score(relevance, scores, k=5)
    assert ndcg_at_k(items, {2, 4, 9}, 5) == pytest.approx(expected)


def test_the_data_set_is_seeded_and_has_its_structure() -> None:
    again = generate()
    assert np.array_equal(DATA.item, again.item)
    assert np.array_equal(DATA.day, again.day)
    own = [
        genre_of_item(int(i)) == genre_of_user(int(u))
        for u, i in zip(DATA.user, DATA.item, strict=True)
    ]
    # By chance a sixth would be; 85% of draws are from the own genre,
    # and repeats are skipped, which leaves 73% (measured).
    assert 0.65 < np.mean(own) < 0.8
    pairs = set(zip(DATA.user.tolist(), DATA.item.tolist(), strict=True))
    assert len(pairs) == len(DATA.user)  # no repeated interaction


def test_the_split_is_by_time() -> None:
    assert TRAIN.day.max() < CUTOFF_DAY <= TEST.day.min()
    assert len(TRAIN.user) + len(TEST.user) == len(DATA.user)


# ANCHOR: beats
def test_collaborative_models_beat_popularity() -> None:
    base = evaluate(Popularity(M), M, TEST, K)
    for model in (ItemKnn(M), Svd(M)):
        r = evaluate(model, M, TEST, K)
        for metric in ("P", "R", "NDCG"):
            # The known structure (users keep to a genre) is what the
            # collaborative models can learn and popularity cannot.
            assert r[metric] > 2 * base[metric], (model.name, metric)


# ANCHOR_END: beats


def test_recommendations_exclude_what_the_user_has_seen() -> None:
    ranked = recommend(ItemKnn(M), M, K)
    for u, row in enumerate(ranked):
        assert not set(row) & set(M[u].indices.tolist())
        assert len(row) == K


def test_knn_recommends_from_the_users_genre() -> None:
    ranked = recommend(ItemKnn(M), M, K)
    own = [
        genre_of_item(i) == genre_of_user(u)
        for u, row in enumerate(ranked)
        for i in row
    ]
    assert np.mean(own) > 0.75  # 86% measured, a sixth by chance


# ANCHOR: pickle_test
def test_unpickling_runs_the_attackers_code(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    blob = pickle.dumps(Payload(marker))
    assert not marker.exists()
    result = pickle.loads(blob)  # what joblib.load and pickle.load do
    assert marker.read_text() == "ran inside pickle.loads"
    assert result == len("ran inside pickle.loads")  # not even a model
    # The bytes name the callable; REDUCE is the opcode that calls it.
    ops = [op.name for op, _, _ in pickletools.genops(blob)]
    assert "REDUCE" in ops


def test_numpy_refuses_the_same_bytes(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "items.npy"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match="pickled"):
        np.load(path, allow_pickle=False)
    assert not marker.exists()


# ANCHOR_END: pickle_test


def test_an_object_array_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "items.npy"
    np.save(path, np.array([Payload(tmp_path / "m")], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle=False"):
        np.load(path, allow_pickle=False)
    assert not (tmp_path / "m").exists()


def test_arrays_and_json_round_trip(tmp_path: Path) -> None:
    model = Svd(M)
    save_arrays(tmp_path, model)
    items, meta = load_arrays(tmp_path)
    assert np.array_equal(items, model.items)
    assert meta["items"] == N_ITEMS


def test_a_wrong_shape_is_an_error(tmp_path: Path) -> None:
    save_arrays(tmp_path, Svd(M))
    np.save(tmp_path / "items.npy", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unexpected array"):
        load_arrays(tmp_path)

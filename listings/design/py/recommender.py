"""3.4 in Python: offline training and evaluation of a recommender.

A seeded data set with a known structure (every user prefers one genre;
some items are popular with everyone), split by time, then three models
measured by precision@k, recall@k and NDCG@k: a popularity baseline,
item-item cosine kNN, and matrix factorisation with TruncatedSVD. The
model is saved as plain arrays (.npy, loaded with allow_pickle=False)
and JSON, never as a pickle; `Payload` shows why.

Run: python listings/design/py/recommender.py"""

import json
import math
import pickle
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from sklearn.decomposition import TruncatedSVD  # type: ignore[import-untyped]
from sklearn.metrics.pairwise import (  # type: ignore[import-untyped]
    cosine_similarity,
)

Scores = npt.NDArray[np.float64]

N_USERS, N_ITEMS, N_GENRES = 300, 120, 6
DAYS, CUTOFF_DAY = 60, 48  # train on days 0-47, test on days 48-59
K = 10


# ANCHOR: data
@dataclass(frozen=True)
class Interactions:
    user: npt.NDArray[np.int64]
    item: npt.NDArray[np.int64]
    day: npt.NDArray[np.int64]


def genre_of_item(item: int) -> int:
    return item % N_GENRES


def genre_of_user(user: int) -> int:
    return user % N_GENRES


def generate(seed: int = 7) -> Interactions:
    """Each user makes 12-19 distinct interactions spread over DAYS days.
    A draw is from their own genre with probability 0.85, else from
    anywhere; within a pool an item's chance follows a Zipf-like weight
    (1/rank), so some items are popular with everyone and a popularity
    baseline is not a strawman. A repeat is skipped, so fewer than 85% of
    the interactions end up in the user's own genre."""
    rng = np.random.default_rng(seed)
    weight = 1.0 / (1.0 + rng.permutation(N_ITEMS))  # the hidden popularity
    every = np.arange(N_ITEMS)
    users, items, days = [], [], []
    for u in range(N_USERS):
        own = every[every % N_GENRES == genre_of_user(u)]
        wanted = int(rng.integers(12, 20))
        seen: list[int] = []
        while len(seen) < wanted:  # draws in batches: fast, still seeded
            mine = rng.choice(own, 64, p=weight[own] / weight[own].sum())
            any_ = rng.choice(every, 64, p=weight / weight.sum())
            draws = np.where(rng.random(64) < 0.85, mine, any_)
            for item in draws.tolist():
                if item not in seen and len(seen) < wanted:
                    seen.append(item)
        users += [u] * wanted
        items += seen
        days += rng.integers(0, DAYS, wanted).tolist()
    return Interactions(np.array(users), np.array(items), np.array(days))


# ANCHOR_END: data


# ANCHOR: split
def time_split(data: Interactions, cutoff: int) -> tuple[Interactions, ...]:
    """Everything before the cutoff day trains, everything from it on
    tests: the model never sees the future it is scored on. A random
    split would leak tomorrow's tastes into today's model."""
    before = data.day < cutoff
    parts = []
    for mask in (before, ~before):
        parts.append(
            Interactions(data.user[mask], data.item[mask], data.day[mask])
        )
    return tuple(parts)


def matrix(data: Interactions) -> csr_matrix:
    """The user x item matrix, 1 where the user interacted."""
    ones = np.ones(len(data.user))
    m = csr_matrix((ones, (data.user, data.item)), shape=(N_USERS, N_ITEMS))
    m.data[:] = 1.0  # duplicates (none here) would sum
    return m


# ANCHOR_END: split


# ANCHOR: metrics
def precision_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Share of the top k that is relevant (k, not len(ranked), below)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    return sum(1 for i in ranked[:k] if i in relevant) / k


def recall_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Share of the relevant items that made the top k."""
    if not relevant:
        raise ValueError("recall is undefined without relevant items")
    return sum(1 for i in ranked[:k] if i in relevant) / len(relevant)


def ndcg_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Binary relevance: a hit at position p (1-based) is worth
    1/log2(p + 1); divided by the best possible DCG, where every one of
    min(k, |relevant|) first places is a hit."""
    if not relevant or k < 1:
        raise ValueError("NDCG needs relevant items and k of at least 1")
    dcg = sum(
        1.0 / math.log2(p + 1)
        for p, i in enumerate(ranked[:k], start=1)
        if i in relevant
    )
    ideal = sum(
        1.0 / math.log2(p + 1) for p in range(1, min(k, len(relevant)) + 1)
    )
    return dcg / ideal


# ANCHOR_END: metrics


class Model(Protocol):
    name: str

    def scores(self, seen: csr_matrix) -> Scores: ...


# ANCHOR: models
class Popularity:
    name = "popularity"

    def __init__(self, train: csr_matrix) -> None:
        self.counts = np.asarray(train.sum(axis=0)).ravel()

    def scores(self, seen: csr_matrix) -> Scores:
        return np.tile(self.counts, (seen.shape[0], 1)).astype(np.float64)


class ItemKnn:
    """Item-item cosine similarity on the interaction columns; a user's
    score for an item is the sum of its similarities to what they saw."""

    name = "item-item cosine kNN"

    def __init__(self, train: csr_matrix) -> None:
        self.similarity: Scores = cosine_similarity(train.T, dense_output=True)
        np.fill_diagonal(self.similarity, 0.0)

    def scores(self, seen: csr_matrix) -> Scores:
        return np.asarray(seen @ self.similarity, dtype=np.float64)


class Svd:
    """Matrix factorisation: user and item vectors of N_GENRES numbers,
    their dot product the score."""

    name = "TruncatedSVD"

    def __init__(self, train: csr_matrix) -> None:
        svd = TruncatedSVD(n_components=N_GENRES, random_state=0)
        self.users: Scores = svd.fit_transform(train)
        self.items: Scores = svd.components_.T

    def scores(self, seen: csr_matrix) -> Scores:
        return self.users @ self.items.T


# ANCHOR_END: models


# ANCHOR: evaluate
def recommend(model: Model, seen: csr_matrix, k: int) -> list[list[int]]:
    scores = model.scores(seen)
    scores[seen.nonzero()] = -np.inf  # never recommend what they have
    # Stable sort on the negated score: ties go to the lower item id.
    order = np.argsort(-scores, axis=1, kind="stable")
    return [[int(i) for i in row[:k]] for row in order]


def evaluate(
    model: Model, train: csr_matrix, test: Interactions, k: int
) -> dict[str, float]:
    """Mean of each metric over users with a new item in the test period
    (an item they had already seen in training is not a new relevant
    item: it could not have been recommended)."""
    ranked = recommend(model, train, k)
    metrics: dict[str, list[float]] = {"P": [], "R": [], "NDCG": []}
    for u in range(N_USERS):
        seen = set(train[u].indices.tolist())
        relevant = {int(i) for i in test.item[test.user == u]} - seen
        if not relevant:
            continue
        metrics["P"].append(precision_at_k(ranked[u], relevant, k))
        metrics["R"].append(recall_at_k(ranked[u], relevant, k))
        metrics["NDCG"].append(ndcg_at_k(ranked[u], relevant, k))
    return {name: float(np.mean(values)) for name, values in metrics.items()}


# ANCHOR_END: evaluate


# ANCHOR: pickle
class Payload:
    """What an attacker puts in a "model.pkl". pickle stores an object as
    "call this callable with these arguments", taken from __reduce__, and
    pickle.loads makes the call. Here the callable writes a marker file;
    it could as well be os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return (Path.write_text, (self.marker, "ran inside pickle.loads"))


# ANCHOR_END: pickle


# ANCHOR: safe
def save_arrays(folder: Path, model: Svd) -> None:
    """Numbers as .npy (a header and raw floats), metadata as JSON."""
    np.save(folder / "items.npy", model.items, allow_pickle=False)
    meta = {"components": N_GENRES, "items": N_ITEMS, "k": K}
    (folder / "meta.json").write_text(json.dumps(meta))


def load_arrays(folder: Path) -> tuple[Scores, dict[str, int]]:
    items = np.load(folder / "items.npy", allow_pickle=False)
    if items.dtype != np.float64 or items.shape != (N_ITEMS, N_GENRES):
        raise ValueError(f"unexpected array {items.dtype} {items.shape}")
    meta = json.loads((folder / "meta.json").read_text())
    return items, meta


# ANCHOR_END: safe


def main() -> None:
    # ANCHOR: main
    data = generate()
    train, test = time_split(data, CUTOFF_DAY)
    print(f"{len(data.user)} interactions, {N_USERS} users, {N_ITEMS} items")
    print(f"train: days 0-{CUTOFF_DAY - 1}, {len(train.user)} interactions")
    print(f"test:  days {CUTOFF_DAY}-{DAYS - 1}, {len(test.user)} interactions")
    m = matrix(train)
    print(f"{'model':<22}{'P@10':>7}{'R@10':>7}{'NDCG@10':>9}")
    for model in (Popularity(m), ItemKnn(m), Svd(m)):
        r = evaluate(model, m, test, K)
        print(f"{model.name:<22}{r['P']:>7.3f}{r['R']:>7.3f}{r['NDCG']:>9.3f}")
    # ANCHOR_END: main
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "marker"
        blob = pickle.dumps(Payload(marker))
        print(f"marker before pickle.loads: {marker.exists()}")
        pickle.loads(blob)  # the point of the demonstration: never do this
        print(f"marker after pickle.loads:  {marker.exists()}")
        save_arrays(Path(tmp), Svd(m))
        items, meta = load_arrays(Path(tmp))
        print(f"loaded items.npy {items.shape} and meta.json {meta}")


if __name__ == "__main__":
    main()

import numpy as np
import pytest

from activespot.select import (
    STRATEGIES,
    coreset,
    entropy,
    entropy_score,
    get_strategy,
    initial_kmeans,
    least_confidence_kmeans,
    least_confidence_score,
    margin,
    margin_score,
    random,
)


def _confident_probs(n_spots: int, k: int = 3) -> np.ndarray:
    probs = np.full((n_spots, k), 0.02 / (k - 1))
    probs[np.arange(n_spots), np.arange(n_spots) % k] = 0.98
    return probs


@pytest.fixture
def planted():
    """200 confident spots; 10 uncertain ones sitting in 5 well-separated pairs in embedding space."""
    rng = np.random.default_rng(0)
    probs = _confident_probs(200)
    emb = rng.normal(size=(200, 8))
    uncertain = np.arange(10, 20)
    probs[uncertain] = [0.4, 0.35, 0.25]
    for pair in range(5):
        centre = np.zeros(8)
        centre[pair] = 100.0
        emb[uncertain[2 * pair : 2 * pair + 2]] = centre + rng.normal(scale=0.01, size=(2, 8))
    return probs, emb, uncertain


def test_scores_known_values():
    probs = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(least_confidence_score(probs), [0.0, 1.0, 0.75])
    np.testing.assert_allclose(margin_score(probs), [0.0, 1.0, 1.0])
    np.testing.assert_allclose(entropy_score(probs), [0.0, np.log(3), np.log(2)])
    # rescaled least confidence is 1 at the uniform distribution for any K
    assert least_confidence_score(np.array([[0.5, 0.5]]))[0] == pytest.approx(1.0)


def test_least_confidence_kmeans_takes_one_uncertain_spot_per_cluster(planted):
    probs, emb, uncertain = planted
    mask = np.zeros(200, dtype=bool)
    picked = least_confidence_kmeans(probs, emb, mask, 5, rng=0, top_fraction=0.05)  # 10 candidates
    assert set(picked) <= set(uncertain)
    assert sorted(np.argmax(emb[picked], axis=1)) == [0, 1, 2, 3, 4]  # one per planted pair


def test_least_confidence_kmeans_keeps_at_least_the_batch(planted):
    probs, emb, uncertain = planted
    # 5 % of 200 is 10 candidates, but a batch of 10 must still be 10 distinct spots
    picked = least_confidence_kmeans(probs, emb, np.zeros(200, dtype=bool), 10, rng=0, top_fraction=0.01)
    assert sorted(picked) == list(uncertain)


@pytest.mark.parametrize("strategy", [margin, entropy])
def test_uncertainty_strategies_pick_planted_spots(strategy, planted):
    probs, emb, uncertain = planted
    probs = probs.copy()
    probs[uncertain[:3]] = [0.34, 0.33, 0.33]  # the three most uncertain of all
    mask = np.zeros(200, dtype=bool)
    mask[uncertain[0]] = True  # labelled: must be skipped
    assert sorted(strategy(probs, emb, mask, 2, rng=0)) == sorted(uncertain[1:3])


def test_coreset_picks_farthest_from_labelled():
    emb = np.zeros((49, 2))
    emb[:, 0] = np.arange(49)  # points on a line; 0 labelled
    mask = np.zeros(49, dtype=bool)
    mask[0] = True
    assert list(coreset(None, emb, mask, 2, rng=0)) == [48, 24]
    # with nothing labelled it still returns distinct spots
    assert len(set(coreset(None, emb, np.zeros(49, dtype=bool), 5, rng=0))) == 5


def test_random_skips_labelled_and_is_reproducible():
    mask = np.zeros(30, dtype=bool)
    mask[:25] = True
    assert sorted(random(None, None, mask, 5, rng=1)) == [25, 26, 27, 28, 29]
    np.testing.assert_array_equal(random(None, None, ~mask, 3, rng=7), random(None, None, ~mask, 3, rng=7))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_is_seeded_distinct_and_unlabelled(name, planted):
    probs, emb, _ = planted
    mask = np.zeros(200, dtype=bool)
    mask[::3] = True
    strategy = get_strategy(name)
    first = strategy(probs, emb, mask, 12, rng=3)
    np.testing.assert_array_equal(first, strategy(probs, emb, mask, 12, rng=3))
    assert len(set(first)) == 12
    assert not mask[first].any()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_batch_larger_than_pool_returns_the_pool(name, planted):
    probs, emb, _ = planted
    mask = np.ones(200, dtype=bool)
    mask[[3, 4, 5]] = False
    assert sorted(get_strategy(name)(probs, emb, mask, 10, rng=0)) == [3, 4, 5]


def test_initial_kmeans_covers_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [50.0, 0.0], [0.0, 50.0]])
    feats = np.repeat(centres, [60, 30, 10], axis=0) + rng.normal(size=(100, 2))
    picked = initial_kmeans(feats, 3, rng=0)
    assert sorted(np.round(feats[picked] / 50).astype(int).tolist()) == [[0, 0], [0, 1], [1, 0]]
    exclude = np.zeros(100, dtype=bool)
    exclude[picked] = True
    assert not set(initial_kmeans(feats, 3, rng=0, exclude=exclude)) & set(picked)


def test_unknown_strategy_lists_names():
    with pytest.raises(KeyError, match="least_confidence_kmeans, margin, entropy, coreset, random; got 'coresett'"):
        get_strategy("coresett")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "positive integer"),
        ({"labelled_mask": np.zeros(200)}, "boolean"),
        ({"probs": np.ones((5, 3))}, "one row per spot"),
        ({"top_fraction": 0.0}, "top_fraction"),
    ],
)
def test_invalid_inputs_are_explained(kwargs, message, planted):
    probs, emb, _ = planted
    args = {"probs": probs, "embeddings": emb, "labelled_mask": np.zeros(200, dtype=bool), "n": 5} | kwargs
    with pytest.raises(ValueError, match=message):
        least_confidence_kmeans(**args)

"""Scoring, calibration and training: metrics and threshold choice, the trained scorer (judge,
JSON round trip), grouped cross-validation, and the match stage's trained-vs-similarity paths.
Real news texts from the development corpus, embedded with the hashing embedder for speed."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from relevance_support import sample, shipped_facets

from bot.core.errors import BadArgument
from bot.core.facets import Facet
from bot.core.models import Topic
from bot.relevance.embed import HashingEmbedder
from bot.relevance.match import TopicIndex, score_article
from bot.relevance.metrics import (
    THRESHOLD_PRECISION,
    average_precision,
    f_beta,
    figures_at,
    pick_threshold,
)
from bot.relevance.scorer import TopicScorer, document_text
from bot.relevance.scoring import embed_documents
from bot.relevance.train import Example, _splits, fit, out_of_fold, train

EMBEDDER = HashingEmbedder()


@cache
def examples() -> tuple[Example, ...]:
    """The sample's items as training examples: related = positive, grouped by event."""
    rows = sample()
    docs = embed_documents(EMBEDDER, [(r["title"] or "", r["text"]) for r in rows])
    return tuple(
        Example(
            r["label"] == "related",
            d.vectors,
            document_text(d.passages),
            r["event"] or r["id"],
            r["id"],
        )
        for r, d in zip(rows, docs, strict=True)
    )


# --- metrics ---------------------------------------------------------------------------------------


def test_average_precision_by_hand() -> None:
    # ranking: pos, neg, pos → precision at the positives 1/1 and 2/3
    assert average_precision(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.7])) == pytest.approx(
        (1 + 2 / 3) / 2
    )
    assert average_precision(np.array([0, 1]), np.array([0.9, 0.1])) == pytest.approx(0.5)


def test_average_precision_breaks_ties_against_positives() -> None:
    assert average_precision(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)


def test_average_precision_without_positives_is_zero() -> None:
    assert average_precision(np.array([0, 0]), np.array([0.3, 0.9])) == 0.0


@given(
    labels=st.lists(st.booleans(), min_size=1, max_size=40),
    data=st.data(),
)
def test_average_precision_is_between_zero_and_one(labels: list[bool], data: st.DataObject) -> None:
    scores = data.draw(
        st.lists(st.floats(0, 1, allow_nan=False), min_size=len(labels), max_size=len(labels))
    )
    ap = average_precision(np.array(labels), np.array(scores))
    assert 0.0 <= ap <= 1.0
    if not any(labels):
        assert ap == 0.0


@given(
    n_pos=st.integers(1, 20),
    n_neg=st.integers(0, 20),
    data=st.data(),
)
def test_average_precision_is_one_when_positives_all_rank_first(
    n_pos: int, n_neg: int, data: st.DataObject
) -> None:
    neg = data.draw(st.lists(st.floats(0, 0.49), min_size=n_neg, max_size=n_neg))
    pos = data.draw(st.lists(st.floats(0.5, 1), min_size=n_pos, max_size=n_pos))
    order = data.draw(st.permutations(range(n_pos + n_neg)))
    labels = np.array([True] * n_pos + [False] * n_neg)[list(order)]
    scores = np.array(pos + neg)[list(order)]
    assert average_precision(labels, scores) == 1.0


def test_figures_at_a_threshold_by_hand() -> None:
    labels = np.array([1, 1, 1, 0, 0])
    scores = np.array([0.9, 0.6, 0.2, 0.7, 0.1])
    f = figures_at(labels, scores, 0.5)  # predicted: 0.9 0.6 0.7 → 2 of 3 right, 2 of 3 found
    assert (f.precision, f.recall, f.threshold, f.n) == (
        pytest.approx(2 / 3, abs=1e-4),
        pytest.approx(2 / 3, abs=1e-4),
        0.5,
        5,
    )
    assert f.f1 == pytest.approx(2 / 3, abs=1e-4)
    assert "precision 0.667" in f.line() and "n=5" in f.line()


def test_figures_when_nothing_is_predicted_are_zero_not_an_error() -> None:
    f = figures_at(np.array([1, 0]), np.array([0.2, 0.1]), 0.9)
    assert (f.precision, f.recall, f.f1) == (0.0, 0.0, 0.0)


def test_f_beta_half_weighs_precision_over_recall() -> None:
    assert f_beta(0.9, 0.6) > f_beta(0.6, 0.9)
    assert f_beta(0.0, 0.0) == 0.0
    assert f_beta(0.8, 0.8) == pytest.approx(0.8)


def test_f_beta_threshold_takes_the_middle_of_the_gap_on_the_grid() -> None:
    labels = np.array([1, 1, 1, 0, 0, 0])
    scores = np.array([0.9, 0.95, 0.92, 0.1, 0.05, 0.08])
    threshold = pick_threshold(labels, scores, beta=0.5)
    # every grid value in (0.10, 0.90] separates perfectly: 0.11 … 0.90, middle 0.51
    assert threshold == pytest.approx(0.51)
    assert round(threshold * 100) == pytest.approx(threshold * 100)


def test_f_beta_threshold_prefers_precision_to_recall() -> None:
    # at ≤ 0.40 everything is kept: precision 8/11, recall 1 (best F1);
    # above 0.40 only the 0.8s: precision 1, recall 1/2 (best F0.5)
    labels = np.array([1] * 8 + [0] * 3)
    scores = np.array([0.8] * 4 + [0.4] * 4 + [0.4] * 3)
    threshold = pick_threshold(labels, scores, beta=0.5)
    assert 0.40 < threshold <= 0.80
    assert figures_at(labels, scores, threshold).precision == 1.0


def test_auto_threshold_is_the_lowest_that_keeps_precision() -> None:
    # 40 related at 0.6 and above, then a look-alike at 0.55 (precision 40/41 = 0.976 ≥ 0.97),
    # then a related report and two look-alikes at 0.5 (precision 41/44 = 0.93): the rule takes
    # the look-alike at 0.55 with the 40, where the best F0.5 stops above it
    labels = np.array([1] * 40 + [0] + [1] + [0] * 2)
    scores = np.array([0.75] * 20 + [0.6] * 20 + [0.55] + [0.5] + [0.5] * 2)
    threshold = pick_threshold(labels, scores)
    assert threshold == pytest.approx(0.51)
    assert figures_at(labels, scores, threshold).precision >= THRESHOLD_PRECISION
    assert pick_threshold(labels, scores, beta=0.5) > threshold


def test_auto_threshold_keeps_precision_at_every_higher_threshold() -> None:
    # precision dips to 0.75 between 0.51 and 0.90 (one look-alike at 0.9 among four): below
    # the dip precision is back at 0.98 only thanks to many reports lower down, so the
    # lowest threshold that keeps it is above the dip
    labels = np.array([1] * 3 + [0] + [1] * 60)
    scores = np.array([0.95] * 3 + [0.9] + [0.5] * 60)
    assert pick_threshold(labels, scores) == pytest.approx(0.91)


def test_auto_threshold_falls_back_to_f_half_where_no_threshold_keeps_precision() -> None:
    labels = np.array([1, 0, 1, 0, 1, 0])
    scores = np.array([0.9, 0.9, 0.7, 0.7, 0.5, 0.5])
    assert pick_threshold(labels, scores) == pick_threshold(labels, scores, beta=0.5)


def test_pick_threshold_with_one_class_is_one_half() -> None:
    assert pick_threshold(np.array([1, 1]), np.array([0.2, 0.3])) == 0.5
    assert pick_threshold(np.array([0, 0]), np.array([0.2, 0.3])) == 0.5


# --- the scorer ----------------------------------------------------------------------------------


def hand_scorer(facets: tuple[Facet, ...] = ()) -> TopicScorer:
    n_features = 0 if not facets else len(facets) * 2 + 3
    return TopicScorer(
        model="hand",
        embedding_weights=np.array([1.0, 0.0, 0.0], np.float32),
        embedding_bias=-0.5,
        combine_weights=np.array([2.0] + [0.0] * n_features),
        combine_bias=0.0,
        facets=facets,
    )


def test_judge_takes_the_best_passage_and_calibrates_it_with_a_sigmoid() -> None:
    vectors = np.array([[0.1, 1, 0], [0.9, 0, 0], [0.3, 0, 1]], np.float32)
    judgement = hand_scorer().judge(vectors, "text")
    assert judgement.passage_row == 1
    assert judgement.passage_score == pytest.approx(0.9 - 0.5)
    assert judgement.probability == pytest.approx(1 / (1 + np.exp(-2 * 0.4)))


def test_judge_of_no_passages_is_zero() -> None:
    judgement = hand_scorer().judge(np.zeros((0, 3), np.float32), "")
    assert judgement.probability == 0.0


def test_judge_probability_stays_in_zero_one_for_extreme_logits() -> None:
    scorer = hand_scorer()
    huge = scorer.judge(np.array([[1e6, 0, 0]], np.float32), "").probability
    tiny = scorer.judge(np.array([[-1e6, 0, 0]], np.float32), "").probability
    assert 0.0 < tiny < 1e-10 and 1 - 1e-10 < huge <= 1.0


def test_trained_scorer_survives_a_json_round_trip() -> None:
    trained = fit(list(examples()), shipped_facets(), model=EMBEDDER.name)
    again = TopicScorer.from_json(json.loads(json.dumps(trained.to_json())))
    assert again.facets == trained.facets and again.model == EMBEDDER.name
    for e in examples():
        a = trained.judge(e.passage_vectors, e.text)
        b = again.judge(e.passage_vectors, e.text)
        assert b.passage_row == a.passage_row
        assert b.probability == pytest.approx(a.probability, abs=1e-5)


def test_reloaded_scorer_judges_exactly_like_its_json() -> None:
    trained = fit(list(examples()), shipped_facets(), model=EMBEDDER.name)
    data = json.loads(json.dumps(trained.to_json()))
    first, second = TopicScorer.from_json(data), TopicScorer.from_json(data)
    for e in examples():
        assert (
            first.judge(e.passage_vectors, e.text).probability
            == second.judge(e.passage_vectors, e.text).probability
        )


# --- training ------------------------------------------------------------------------------------


def test_training_refuses_too_few_positives_or_negatives() -> None:
    ex = list(examples())
    one_positive = [e for e in ex if not e.label] + [next(e for e in ex if e.label)]
    one_negative = [e for e in ex if e.label] + [next(e for e in ex if not e.label)]
    for subset, counts in ((one_positive, "has 1 and 9"), (one_negative, "has 8 and 1")):
        with pytest.raises(BadArgument, match=counts):
            train(subset, shipped_facets(), model=EMBEDDER.name)


def test_grouped_folds_never_split_an_event() -> None:
    ex = list(examples())
    splits = _splits(ex, 5)
    assert splits
    tested = []
    for train_rows, test_rows in splits:
        assert {ex[i].group for i in train_rows}.isdisjoint({ex[i].group for i in test_rows})
        assert any(ex[i].label for i in train_rows) and not all(ex[i].label for i in train_rows)
        tested += list(test_rows)
    assert sorted(tested) == list(range(len(ex)))


def test_one_group_means_no_folds_and_in_sample_scores() -> None:
    ex = [Example(e.label, e.passage_vectors, e.text, "one", e.ref) for e in examples()]
    assert _splits(ex, 5) == []
    scorer = fit(ex, shipped_facets(), model=EMBEDDER.name)
    expected = [scorer.judge(e.passage_vectors, e.text).probability for e in ex]
    assert out_of_fold(ex, shipped_facets(), model=EMBEDDER.name).tolist() == expected


def test_out_of_fold_scores_come_from_models_that_never_saw_the_event() -> None:
    ex = list(examples())
    in_sample = fit(ex, shipped_facets(), model=EMBEDDER.name)
    oof = out_of_fold(ex, shipped_facets(), model=EMBEDDER.name)
    inside = np.array([in_sample.judge(e.passage_vectors, e.text).probability for e in ex])
    labels = np.array([e.label for e in ex])
    # a model scoring its own training items is more confident than held-out scoring
    assert np.abs(inside - labels).mean() < np.abs(oof - labels).mean()


def test_training_reports_cross_validated_figures_at_its_own_threshold() -> None:
    trained = train(list(examples()), shipped_facets(), model=EMBEDDER.name)
    labels = np.array([e.label for e in examples()])
    oof = out_of_fold(list(examples()), shipped_facets(), model=EMBEDDER.name)
    assert (trained.positives, trained.negatives) == (int(labels.sum()), int((~labels).sum()))
    assert trained.threshold == pick_threshold(labels, oof)
    assert trained.cv == figures_at(labels, oof, trained.threshold)


def test_facets_lift_held_out_ranking_of_real_texts_over_the_embedding_alone() -> None:
    with_facets = train(list(examples()), shipped_facets(), model=EMBEDDER.name)
    without = train(list(examples()), (), model=EMBEDDER.name)
    assert with_facets.cv.ap > without.cv.ap
    assert with_facets.cv.ap >= 0.9


def test_trained_scores_rank_attacks_above_look_alikes_and_unrelated_news() -> None:
    ex = list(examples())
    oof = out_of_fold(ex, shipped_facets(), model=EMBEDDER.name)
    by_ref = dict(zip((e.ref for e in ex), oof, strict=True))
    related = [p for r, p in by_ref.items() if r.startswith("dev-rel")]
    hard = [p for r, p in by_ref.items() if r.startswith("dev-hn")]
    unrelated = [p for r, p in by_ref.items() if r.startswith("dev-neg")]
    assert np.median(related) > max(np.median(hard), max(unrelated))
    assert max(unrelated) < min(related)


# --- the match stage: trained scorer or similarity fallback ------------------------------------------


def index_for(scorer: TopicScorer | None, seed_vectors: np.ndarray) -> TopicIndex:
    topic = Topic("t", "", threshold=0.5, facets=scorer.facets if scorer else ())
    n = seed_vectors.shape[0]
    return TopicIndex(
        topic,
        "hand",
        seed_vectors,
        tuple(range(1, n + 1)),
        tuple(f"seed {i}" for i in range(n)),
        scorer,
    )


SEEDS = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], np.float32)
ARTICLE = np.array([[0.1, 0.99, 0.0], [0.9, 0.0, 0.43]], np.float32)


def test_score_article_uses_the_trained_scorer_when_there_is_one() -> None:
    scored = score_article(ARTICLE, ["first", "second"], index_for(hand_scorer(), SEEDS))
    judgement = hand_scorer().judge(ARTICLE, "first\nsecond")
    assert scored.score == round(judgement.probability, 4)
    assert scored.passage == "second"  # the passage the scorer liked, not the most seed-like
    assert (scored.seed_id, scored.seed_title) == (2, "seed 1")  # nearest seed to that passage
    assert scored.similarity == pytest.approx(0.43, abs=1e-4)


def test_score_article_falls_back_to_the_best_seed_similarity() -> None:
    scored = score_article(ARTICLE, ["first", "second"], index_for(None, SEEDS))
    assert scored.score == pytest.approx(0.99, abs=1e-4)
    assert (scored.passage, scored.seed_id) == ("first", 1)
    assert scored.similarity == scored.score


def test_score_article_with_a_scorer_but_no_seeds_still_scores() -> None:
    empty = np.zeros((0, 3), np.float32)
    scored = score_article(ARTICLE, ["first", "second"], index_for(hand_scorer(), empty))
    assert scored.score > 0 and scored.seed_id is None and scored.similarity is None
    assert scored.passage == "second"


def test_score_article_without_seeds_or_scorer_is_zero() -> None:
    empty = np.zeros((0, 3), np.float32)
    scored = score_article(ARTICLE, ["first", "second"], index_for(None, empty))
    assert scored.score == 0.0 and not scored.is_match

"""Readable labels and tooltips of the index's choices (issue 18): every word has one, once, in
core.vocab, for the Builder, the docs and the toolbox."""
import pytest

from composite_index_plugin.core import model, vocab

TABLES = [(vocab.MEASURES, vocab.MEASURE_TEXT), (vocab.SCALINGS, vocab.SCALING_TEXT),
          (vocab.DIRECTIONS, vocab.DIRECTION_TEXT), (vocab.MISSING, vocab.MISSING_TEXT),
          (vocab.AGGREGATIONS, vocab.AGGREGATION_TEXT),
          (vocab.GEOGRAPHY_TYPES, vocab.GEOGRAPHY_TEXT)]


@pytest.mark.parametrize("words,texts", TABLES)
def test_every_choice_has_a_readable_label_and_a_tooltip(words, texts):
    assert set(texts) == set(words)
    labels = [vocab.label(texts, w) for w in words]
    assert len(set(labels)) == len(labels)                       # no two alike
    for word in words:
        assert vocab.label(texts, word) != word and "_" not in vocab.label(texts, word)
        assert len(vocab.tip(texts, word)) > 20


def test_labels_read_as_an_analyst_would():
    assert vocab.label(vocab.MEASURE_TEXT, "eb_rate_spatial") == \
        "Spatial empirical Bayes rate (smoothed with neighbours)"
    assert vocab.label(vocab.DIRECTION_TEXT, "higher_is_worse") == "Higher is worse"
    assert vocab.label(vocab.MEASURE_TEXT, "unknown") == "unknown" and \
        vocab.tip(vocab.MEASURE_TEXT, "unknown") == ""


def test_the_model_offers_exactly_the_words_that_have_labels():
    assert model.Role.key("measure").choices == vocab.MEASURES
    assert model.Role.key("scaling").choices == vocab.SCALINGS
    assert model.Role.key("direction").choices == vocab.DIRECTIONS
    assert model.Role.key("missing").choices == vocab.MISSING
    assert model.Aggregation.key("issue").choices == vocab.AGGREGATIONS
    assert model.Geography.key("type").choices == vocab.GEOGRAPHY_TYPES

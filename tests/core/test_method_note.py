"""The methodology note says what the recipe chose (measures, scalings, weights, aggregation)."""
from composite_index_plugin.core.method_note import method_lines, method_note

SPEC = {
    "themes": [
        {"name": "violence", "label": "Violence and vulnerability", "weight": 2, "issues": [
            {"name": "domestic_abuse", "label": "Domestic abuse", "weight": 1, "indicators": {
                "victims": {"field": "a", "measure": "rate", "denominator": "population",
                            "per": 1000, "scaling": "zscore"},
                "locations": {"field": "b", "measure": "volume", "scaling": "minmax", "weight": 2}}},
            {"name": "robbery", "weight": 3, "indicators": {
                "offenders": {"field": "c", "measure": "volume", "scaling": "zscore",
                              "direction": "lower_is_worse"}}}]},
        {"name": "acquisitive", "label": "Acquisitive crime", "issues": [
            {"name": "burglary", "roles": {"victims": {"measure": "rate",
                                                       "denominator": "households"}}}]}],
    "aggregation": {"issue": "mean", "theme": "mean", "composite": "imd"},
}


def test_note_counts_and_groups_choices():
    lines = method_lines(SPEC)
    assert lines[0] == ("Composite index of 2 themes (Violence and vulnerability; Acquisitive crime) "
                        "built from 3 issues.")
    assert lines[1] == "4 indicators describe victims, offenders and locations per issue."
    assert lines[2] == "Measures: rates per 1,000 households and population (2); counts (2)."
    # burglary's scaling is silent -> default zscore: 3 z-scores, 1 min-max
    assert lines[3] == "Scaling: z-scores (3); min-max (0-1) (1)."
    assert lines[4] == "1 indicator where lower values mean more need were turned round."
    assert "themes into the index by ranks, exponential transform" in lines[5]
    assert lines[6] == ("Theme weights: Violence and vulnerability 2, Acquisitive crime 1; "
                        "Violence and vulnerability issue weights: Domestic abuse 1, robbery 3.")


def test_equal_weights_and_same_aggregation():
    spec = {"themes": [{"name": "a", "issues": [{"name": "x", "indicators": {"victims": {}}}]},
                       {"name": "b", "issues": [{"name": "y", "indicators": {"victims": {}}}]}]}
    text = method_note(spec)
    assert "Indicators, issues and themes are combined by weighted mean." in text
    assert "Themes weighted equally; issues weighted equally within each theme." in text
    assert "Measures: counts (2)." in text


def test_cut_at_sentence_and_bad_input():
    text = method_note(SPEC, max_chars=160)
    assert len(text) <= 160 and text.endswith(" ...")
    assert text.startswith("Composite index of 2 themes")
    assert method_note(None) == "Method: not recorded."
    assert method_note({}).startswith("Method: no index specification")


def test_pooled_rates_and_ties_are_said():
    lines = method_lines(SPEC)
    assert "Rates on fewer than 50 households and population are pooled with the study-area rate." \
        in lines
    assert lines[-1].startswith("Rank 1 and decile 1 mark the highest need; tied zones share a decile")
    spec = {"themes": [{"name": "a", "issues": [{"name": "x", "roles": {"victims": {
        "measure": "eb_rate", "options": {"min_denominator": 0}}}}]}]}
    assert not any("pooled" in line for line in method_lines(spec))

"""core.quickstart: the themes of the police.uk crime types, period labels, the guesses of
fields, and the recipe `compositeindex:newrecipe` writes (a valid recipe)."""
import pytest

from composite_index_plugin.core import model, policeuk, quickstart


@pytest.mark.parametrize("first,last,label", [
    ("2017-07", "2017-07", "2017-07"), ("2018-01", "2018-12", "2018"),
    ("2018-04", "2019-03", "2018/19"), ("2016-07", "2017-07", "2016-07 to 2017-07"),
])
def test_period_labels_read_back_as_their_months(first, last, label):
    assert quickstart.period_label(first, last) == label
    assert policeuk.months_of_period(label) == (first, last)


def test_the_themes_hold_every_police_uk_crime_type_once():
    import csv

    from composite_index_plugin.paths import resource_path

    with open(resource_path("presets", "policeuk_crime_types.csv"), encoding="utf-8") as handle:
        issues = {row["issue"] for row in csv.DictReader(handle)}
    members = [i for _n, _l, group in quickstart.THEMES for i in group]
    assert len(members) == len(set(members)) == len(issues) == 14
    assert set(members) == issues


def test_recipe_for_is_a_valid_recipe():
    doc = quickstart.recipe_for(
        "policeuk.zip", ("2018-04", "2019-03"), ["west-yorkshire"],
        ["drugs", "burglary", "anti_social_behaviour", "knife_crime"],
        {"path": "areas.gpkg", "layer": "study_area"},
        admin_areas={"path": "areas.gpkg", "layer": "admin_areas", "name_field": "name"},
        population={"path": "areas.gpkg", "layer": "small_areas", "source_key": "code",
                    "table": "census.csv", "table_key": "LSOA Code", "table_field": "Persons"},
        previous="../2017/results.gpkg", previous_label="2017/18")
    recipe, found = model.parse(doc)
    assert found == []
    assert doc["name"] == "West Yorkshire 2018/19" and doc["period"] == "2018/19"
    assert [(t.name, [i.name for i in t.issues]) for t in recipe.themes] == [
        ("neighbourhood_crime", ["burglary"]), ("violence_vulnerability", ["drugs"]),
        ("asb_disorder", ["anti_social_behaviour"]), ("other", ["knife_crime"])]
    assert doc["compare"]["labels"] == ["2017/18", "2018/19"]
    assert doc["study_area"]["buffer"] == 50 and doc["sensitivity"]["runs"] == 100


def test_guesses():
    columns = {"OBJECTID": ["1", "2", "3"], "LSOA11CD": ["E01", "E02", "E03"],
               "LSOA11NM": ["Leeds 001A", "Leeds 001B", "Bradford 001A"]}
    assert quickstart.guess_boundary_fields(columns, ["E01", "E03", "W9"],
                                            ["Leeds 001A"]) == ("LSOA11CD", "LSOA11NM")
    table = {"LSOA Name": ["Leeds 001A"], "LSOA Code": ["E01"], "persons": ["1,234"],
             "Households": ["500"]}
    assert quickstart.guess_table_fields(table, ["E01", "E02"]) == ("LSOA Code", "persons")
    from composite_index_plugin.core.errors import CompositeIndexError

    with pytest.raises(CompositeIndexError, match="holds the small areas' codes"):
        quickstart.guess_table_fields(table, ["X1"])
    with pytest.raises(CompositeIndexError, match="no column 'people'"):
        quickstart.guess_table_fields(table, ["E01"], field="people")


def test_a_population_table_with_semicolons_and_a_stray_byte_is_read(tmp_path):
    """Census tables saved by Excel in Europe use ';'; a byte no encoding explains is reported
    by the importer's reader, not a crash (the quick start reads through it)."""
    path = tmp_path / "population.csv"
    path.write_bytes("LSOA Code;Persons;Note\r\nE01011229;1\xa0234;caf\xe9\r\n".encode("cp1252")
                     + b"E01011230;987;x\x81y\r\n")
    columns = quickstart.read_csv_columns(str(path))
    assert columns["LSOA Code"] == ["E01011229", "E01011230"]
    assert quickstart.guess_table_fields(columns, {"E01011229", "E01011230"}) == ("LSOA Code", "Persons")


def test_the_disorder_theme_is_named_after_what_it_counts():
    """Without anti-social behaviour (newrecipe's ASB unticked) the theme of criminal damage,
    public order and other crime is not labelled "Anti-social behaviour and disorder" (the
    West Yorkshire pages printed that label over a theme holding no anti-social behaviour)."""
    study = {"path": "areas.gpkg", "layer": "study_area"}
    with_asb = quickstart.recipe_for("p.zip", ("2017-07", "2017-07"), None,
                                     ["anti_social_behaviour", "public_order"], study)
    without = quickstart.recipe_for("p.zip", ("2017-07", "2017-07"), None,
                                    ["criminal_damage_arson", "public_order", "other_crime"], study)
    assert [(t["name"], t["label"]) for t in with_asb["themes"]] == [
        ("asb_disorder", "Anti-social behaviour and disorder")]
    assert [(t["name"], t["label"]) for t in without["themes"]] == [
        ("asb_disorder", "Criminal damage and disorder")]
    assert model.parse(without)[1] == []

"""The shipped Graphical Modeler models: open, validate, run headless (processing.run and
qgis_process), equal the algorithms run one by one, run in batch (one row per issue); the
three-role model takes victims and offenders as optional, the locations-only model needs no
population; inputs in the order an analyst works, ids without spaces."""
import json
import os
import subprocess
import sys
import zipfile

import pytest
from qgis.core import (
    QgsExpression,
    QgsExpressionContext,
    QgsExpressionContextScope,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingModelAlgorithm,
    QgsProcessingParameterExpression,
    QgsProcessingParameterField,
)

from composite_index_plugin.qgis_compat import ProcessingParameterFlag
from tests.postgis.helpers import assert_same, table

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "resources", "models", "oneissue.model3")
LOCATIONS_MODEL = os.path.join(ROOT, "resources", "models", "oneissuelocations.model3")
SAMPLE = os.path.join(ROOT, "resources", "sample", "birmingham.gpkg")
QGIS_PROCESS = "/usr/bin/qgis_process.bin"
MODEL_ID = "compositeindex:oneissue"
LOCATIONS_ID = "compositeindex:oneissuelocations"
OUTPUTS = {"index:Index": "index", "hotspots:Hotspots": "hotspots",
           "hotspotzones:Hotspot zones": "hotspot_zones"}


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    """The synthetic sample's point layers ("tiny", seed 7): one GeoPackage, one layer per role."""
    from composite_index_plugin.processing import sample_io

    made = sample_io.make_sample(str(tmp_path_factory.mktemp("synthetic")), size="tiny", seed=7,
                                 years=[2024])
    return made[2024]["gpkg"]


def model_params(points, issue, out_dir, cell=1000):
    params = {
        "study_area": f"{SAMPLE}|layername=study_area", "cell_size": cell, "grid_shape": 1,
        "population": f"{SAMPLE}|layername=lsoa21", "population_field": "population",
        "issue": issue, "filter": f"\"issue\" = '{issue}'", "permutations": 99,
        "victims": f"{points}|layername=synthetic_victims",
        "offenders": f"{points}|layername=synthetic_offenders",
        "locations": f"{points}|layername=synthetic_locations"}
    for key, stem in OUTPUTS.items():
        params[key] = os.path.join(out_dir, f"{stem}_{issue}.gpkg")
    return params


def load_model(path=MODEL):
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(path), path
    return model


def run(alg, params):
    import processing

    return processing.run(alg, params, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())


def spec_for(issue, roles=("victims", "offenders", "locations"), locations_weight=2):
    """The index spec the model builds (written out independently, as JSON)."""
    indicators = {
        "victims": {"field": f"{issue}_victims", "measure": "rate", "denominator": "population",
                    "per": 1000, "scaling": "zscore", "missing": "zero"},
        "offenders": {"field": f"{issue}_offenders", "measure": "volume", "scaling": "zscore"},
        "locations": {"field": f"{issue}_locations", "measure": "volume", "scaling": "zscore",
                      "weight": locations_weight}}
    if locations_weight is None:
        del indicators["locations"]["weight"]
    return {"themes": [{"name": f"{issue}_theme", "issues": [{"name": issue, "indicators": {
        role: indicators[role] for role in roles}}]}],
        "aggregation": {"issue": "mean", "theme": "mean", "composite": "mean"}}


def one_by_one(points, issue, out_dir, cell=1000):
    """The model's steps as separate algorithm runs (what an analyst would do in the toolbox)."""
    p = model_params(points, issue, out_dir, cell)
    grid = run("compositeindex:creategrid", {"STUDY_AREA": p["study_area"], "SHAPE": 1, "SIZE": cell,
                                             "KEEP": 0, "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    pop = run("compositeindex:apportion", {"SOURCES": p["population"], "FIELD": "population",
                                           "ZONES": grid, "OUTPUT_FIELD": "population",
                                           "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    agg = run("compositeindex:aggregatepat", {
        "ZONES": pop, "ISSUE": issue, "VICTIMS": p["victims"], "OFFENDERS": p["offenders"],
        "LOCATIONS": p["locations"], "VICTIMS_FILTER": p["filter"], "OFFENDERS_FILTER": p["filter"],
        "LOCATIONS_FILTER": p["filter"], "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    index = run("compositeindex:buildindex", {"INPUT": agg, "SPEC": json.dumps(spec_for(issue)),
                                              "OUTPUT": os.path.join(out_dir, "index.gpkg")})["OUTPUT"]
    hot = run("compositeindex:hotspots", {"INPUT": index, "FIELD": "ci_score", "NEIGHBOURHOOD": 0,
                                          "PERMUTATIONS": 99, "SEED": 12345, "FDR": True,
                                          "OUTPUT": os.path.join(out_dir, "hotspots.gpkg")})["OUTPUT"]
    zones = run("compositeindex:hotspotzones", {"INPUT": hot, "MIN_BIN": 2,
                                                "OUTPUT": os.path.join(out_dir, "zones.gpkg")})
    return {"index:Index": index, "hotspots:Hotspots": hot,
            "hotspotzones:Hotspot zones": zones["OUTPUT"]}


def test_model_opens_validates_and_shows_every_step(provider):
    model = load_model()
    ok, issues = model.validate()
    assert ok, issues
    steps = model.childAlgorithms()
    assert {c.algorithmId() for c in steps.values()} == {
        "compositeindex:creategrid", "compositeindex:apportion", "compositeindex:aggregatepat",
        "compositeindex:buildindex", "compositeindex:hotspots", "compositeindex:hotspotzones"}
    # the chain: each step reads the one before
    assert model.dependsOnChildAlgorithms("hotspotzones") == {"grid", "population", "aggregate",
                                                              "index", "hotspots"}
    assert model.dependentChildAlgorithms("grid") == {"population", "aggregate", "index", "hotspots",
                                                      "hotspotzones"}
    # field and expression inputs are linked to their parent layer inputs (the dialogs list fields)
    field = model.parameterDefinition("population_field")
    assert isinstance(field, QgsProcessingParameterField)
    assert field.parentLayerParameterName() == "population"
    expression = model.parameterDefinition("filter")
    assert isinstance(expression, QgsProcessingParameterExpression)
    assert expression.parentLayerParameterName() == "locations"
    assert sorted(o.name() for o in model.outputDefinitions()) == sorted(OUTPUTS)
    # victims and offenders optional (the index uses the roles given); locations not
    optional = {d.name() for d in model.parameterDefinitions()
                if d.flags() & ProcessingParameterFlag.Optional and not d.isDestination()}
    assert optional == {"victims", "offenders", "filter"}


def _inputs(model):
    return [d.name() for d in model.parameterDefinitions() if not d.isDestination()]


def test_inputs_in_the_order_an_analyst_works(provider):
    """The study area, the points, the grid, the population (not alphabetical)."""
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    assert _inputs(registry.algorithmById(MODEL_ID)) == [
        "study_area", "locations", "victims", "offenders", "filter", "issue", "cell_size",
        "grid_shape", "population", "population_field", "permutations"]
    assert _inputs(registry.algorithmById(LOCATIONS_ID)) == [
        "study_area", "locations", "filter", "issue", "cell_size", "grid_shape", "permutations"]


def test_model_ids_have_no_spaces_and_help_opens_the_docs(provider):
    import re

    from qgis.core import QgsApplication

    from composite_index_plugin.processing.base import docs_url

    models = [a for a in QgsApplication.processingRegistry().providerById(
        "compositeindex").algorithms() if a.group() == "Models"]
    assert sorted(a.id() for a in models) == [MODEL_ID, LOCATIONS_ID]
    for alg in models:
        assert re.fullmatch(r"compositeindex:[a-z]+", alg.id()), alg.id()
        assert alg.create().id() == alg.id()           # every run has the same id
        assert alg.helpUrl() == docs_url("models_batch_scripts.md", alg.displayName())


def _spec(path, **variables):
    model = load_model(path)      # kept: childAlgorithm() is a reference into the model
    source = model.childAlgorithm("index").parameterSources()["SPEC"][0]
    context = QgsExpressionContext()
    scope = QgsExpressionContextScope()
    for name, value in variables.items():
        scope.setVariable(name, value)
    context.appendScope(scope)
    return json.loads(QgsExpression(source.expression()).evaluate(context))


def test_spec_expression_builds_the_documented_spec():
    """The QGIS expression that writes the index spec from the issue name (and the roles
    given) gives valid JSON."""
    assert _spec(MODEL, issue="vehicle_crime", victims="v", offenders="o") == \
        spec_for("vehicle_crime")
    assert _spec(MODEL, issue="asb", victims=None, offenders="o") == \
        spec_for("asb", ("offenders", "locations"))
    assert _spec(MODEL, issue="asb", victims=None, offenders=None) == \
        spec_for("asb", ("locations",))
    assert _spec(LOCATIONS_MODEL, issue="robbery") == \
        spec_for("robbery", ("locations",), locations_weight=None)


def test_model_equals_the_algorithms_one_by_one(provider, points, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    result = run(load_model(), model_params(points, "burglary", str(out)))
    manual = one_by_one(points, "burglary", str(tmp_path))
    index = assert_same(result["index:Index"], manual["index:Index"], "cell_id")
    hot = assert_same(result["hotspots:Hotspots"], manual["hotspots:Hotspots"], "cell_id")
    assert_same(result["hotspotzones:Hotspot zones"], manual["hotspotzones:Hotspot zones"])
    # real numbers: every burglary point of the sample is counted, the population is all there
    from osgeo import ogr
    ds = ogr.Open(points)
    for role in ("victims", "offenders", "locations"):
        lyr = ds.GetLayerByName(f"synthetic_{role}")
        lyr.SetAttributeFilter("issue = 'burglary'")
        assert int(index[f"burglary_{role}"].sum()) == lyr.GetFeatureCount() > 10, role
    assert index["population"].sum() == pytest.approx(1144925.0)   # Birmingham, Census 2021
    assert len(index) == len(hot) == 368 and index["ci_rank"].min() == 1
    assert set(hot["gi_bin"].dropna().astype(int)) <= {-3, -2, -1, 0, 1, 2, 3}


def _roles_one_by_one(points, issue, out_dir, roles, population, spec, cell=1000):
    """The steps of a model with some roles (and with or without population), one by one."""
    p = model_params(points, issue, out_dir, cell)
    zones = run("compositeindex:creategrid", {"STUDY_AREA": p["study_area"], "SHAPE": 1,
                                              "SIZE": cell, "KEEP": 0,
                                              "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    if population:
        zones = run("compositeindex:apportion", {
            "SOURCES": p["population"], "FIELD": "population", "ZONES": zones,
            "OUTPUT_FIELD": "population", "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    params = {"ZONES": zones, "ISSUE": issue, "OUTPUT": "TEMPORARY_OUTPUT"}
    for role in roles:
        params[role.upper()] = p[role]
        params[f"{role.upper()}_FILTER"] = p["filter"]
    agg = run("compositeindex:aggregatepat", params)["OUTPUT"]
    index = run("compositeindex:buildindex", {"INPUT": agg, "SPEC": json.dumps(spec),
                                              "OUTPUT": os.path.join(out_dir, "index.gpkg")})
    return index["OUTPUT"]


def test_locations_only_model_needs_no_population(provider, points, tmp_path):
    """police.uk-like data: locations only, no population; by its id, as qgis_process and
    scripts call it. Equals the steps one by one; every location of the issue counted."""
    out = tmp_path / "model"
    out.mkdir()
    params = model_params(points, "robbery", str(out))
    for key in ("victims", "offenders", "population", "population_field"):
        params.pop(key)
    result = run(LOCATIONS_ID, params)
    manual = _roles_one_by_one(points, "robbery", str(tmp_path), ("locations",), False,
                               spec_for("robbery", ("locations",), locations_weight=None))
    index = assert_same(result["index:Index"], manual, "cell_id")
    assert "population" not in index.columns and "robbery_victims" not in index.columns
    from osgeo import ogr
    ds = ogr.Open(points)                    # kept open while its layer is read
    lyr = ds.GetLayerByName("synthetic_locations")
    lyr.SetAttributeFilter("issue = 'robbery'")
    assert int(index["robbery_locations"].sum()) == lyr.GetFeatureCount() > 10
    assert os.path.exists(params["hotspotzones:Hotspot zones"])


def test_three_role_model_without_offenders(provider, points, tmp_path):
    """An optional role left out: the index is made of the roles given."""
    out = tmp_path / "model"
    out.mkdir()
    params = model_params(points, "burglary", str(out))
    params.pop("offenders")
    result = run(MODEL_ID, params)
    manual = _roles_one_by_one(points, "burglary", str(tmp_path), ("victims", "locations"), True,
                               spec_for("burglary", ("victims", "locations")))
    index = assert_same(result["index:Index"], manual, "cell_id")
    assert "burglary_offenders" not in index.columns
    assert index["population"].sum() == pytest.approx(1144925.0)


def test_batch_over_three_issues_writes_three_outputs(provider, points, tmp_path):
    """Batch mode: one run per row, each with its own issue, filter and output files. The model
    keeps no state between rows: a row gives the same result as the same run on its own."""
    model = load_model()
    issues = ("burglary", "asb", "violence_injury")
    results = {}
    for issue in issues:                                   # one batch row per issue
        results[issue] = run(model, model_params(points, issue, str(tmp_path)))
    files = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".gpkg")
    assert files == sorted(f"{stem}_{i}.gpkg" for i in issues for stem in OUTPUTS.values())
    totals = {}
    for issue in issues:
        frame = table(results[issue]["index:Index"], "cell_id")
        assert f"{issue}_victims" in frame.columns and "ci_score" in frame.columns
        assert not [c for c in frame.columns if c.endswith("_victims") and c != f"{issue}_victims"]
        totals[issue] = int(frame[f"{issue}_locations"].sum())
    assert len(set(totals.values())) == 3                  # three different issues really ran
    alone = tmp_path / "alone"
    alone.mkdir()
    again = run(load_model(), model_params(points, "asb", str(alone)))
    assert_same(again["hotspots:Hotspots"], results["asb"]["hotspots:Hotspots"], "cell_id")


def test_model_is_in_the_toolbox(provider):
    """The provider registers the shipped models (group Models) when the plugin loads."""
    from qgis.core import QgsApplication

    from composite_index_plugin.processing.models import model_algorithms

    assert [(m.name(), m.displayName()) for m in model_algorithms()] == [
        ("oneissue", "Composite index for one issue (victims, offenders, locations)"),
        ("oneissuelocations", "Composite index for one issue (locations only)")]
    for model_id in (MODEL_ID, LOCATIONS_ID):
        alg = QgsApplication.processingRegistry().algorithmById(model_id)
        assert alg is not None, ("provider.py loadAlgorithms must add models.model_algorithms() "
                                 "(see composite_index_plugin/processing/models.py)")
        assert alg.group() == "Models" and alg.provider().id() == "compositeindex"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The packaged plugin unpacked in a plugins folder, enabled in a throwaway profile."""
    folder = tmp_path_factory.mktemp("qgis_plugins")
    zip_path = folder / "plugin.zip"
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "package.py"), "--out", str(zip_path)],
                   check=True, capture_output=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder / "plugins")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=str(folder / "plugins"),
               QGIS_CUSTOM_CONFIG_PATH=str(folder / "profile"))
    env.pop("QGIS_OPTS", None)
    done = subprocess.run([QGIS_PROCESS, "plugins", "enable", "composite_index_plugin"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return env


def test_qgis_process_runs_the_model_file(installed, provider, points, tmp_path):
    out = tmp_path / "cli"
    out.mkdir()
    params = model_params(points, "burglary", str(out))
    args = [QGIS_PROCESS, "run", MODEL, "--"] + [f"{k}={v}" for k, v in params.items()]
    done = subprocess.run(args, env=installed, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manual = one_by_one(points, "burglary", str(tmp_path))
    for key in OUTPUTS:
        assert os.path.exists(params[key]), key
    assert_same(params["index:Index"], manual["index:Index"], "cell_id")
    assert_same(params["hotspots:Hotspots"], manual["hotspots:Hotspots"], "cell_id")


def test_every_algorithm_fits_in_models_and_batch(provider):
    """Field and filter parameters name an existing layer parameter as parent (so the Modeler and
    the batch table list that layer's fields); every output is a destination parameter (so batch
    rows name their own outputs); every algorithm can be a Modeler step."""
    from qgis.core import (
        QgsProcessingDestinationParameter,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingOutputVectorLayer,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterVectorLayer,
    )

    from composite_index_plugin.processing.provider import algorithm_classes

    layer_types = (QgsProcessingParameterFeatureSource, QgsProcessingParameterVectorLayer)
    problems = []
    for cls in algorithm_classes():
        alg = cls()
        alg.initAlgorithm()
        params = {d.name(): d for d in alg.parameterDefinitions()}
        for d in params.values():
            if isinstance(d, (QgsProcessingParameterField, QgsProcessingParameterExpression)):
                parent = params.get(d.parentLayerParameterName())
                if not isinstance(parent, layer_types):
                    problems.append(f"{alg.name()}.{d.name()}: parent {d.parentLayerParameterName()!r}")
        for out in alg.outputDefinitions():
            if isinstance(out, QgsProcessingOutputVectorLayer):
                dest = params.get(out.name())
                if not isinstance(dest, QgsProcessingDestinationParameter):
                    problems.append(f"{alg.name()}.{out.name()}: vector output with no destination")
        step = QgsProcessingModelChildAlgorithm(f"compositeindex:{alg.name()}")
        if step.algorithm() is None:
            problems.append(f"{alg.name()}: cannot be a model step")
    assert problems == []


def test_model_outputs_are_styled_when_loaded(provider, points, tmp_path, load_results_without_iface):
    """Run as from the toolbox (outputs loaded into the project): each output gets its style."""
    import processing
    from qgis.core import QgsProject

    project = QgsProject.instance()
    before = set(project.mapLayers())
    try:
        processing.runAndLoadResults(load_model(), model_params(points, "burglary", str(tmp_path)))
        loaded = {layer.name(): layer for lid, layer in project.mapLayers().items() if lid not in before}
        assert set(loaded) == {"Index", "Hotspots", "Hotspot zones"}
        assert loaded["Index"].renderer().classAttribute() == "ci_decile"
        assert loaded["Hotspots"].renderer().classAttribute() == "gi_bin"
        assert {loaded[n].renderer().type() for n in ("Index", "Hotspots")} == {"categorizedSymbol"}
    finally:
        project.removeMapLayers([lid for lid in project.mapLayers() if lid not in before])


def test_new_optional_parameters_keep_older_models_valid(provider):
    """A model saved before buildindex's OUTPUT_FIELDS and hotspots' KEEP_FIELDS existed (the
    shipped model does not set them) validates, and its steps write every field."""
    from qgis.core import QgsApplication

    model = load_model()
    for child in model.childAlgorithms().values():
        assert "OUTPUT_FIELDS" not in child.parameterSources()
        assert "KEEP_FIELDS" not in child.parameterSources()
    assert model.validate()[0]
    registry = QgsApplication.processingRegistry()
    assert registry.algorithmById("compositeindex:buildindex").parameterDefinition(
        "OUTPUT_FIELDS").defaultValue() == 0
    assert registry.algorithmById("compositeindex:hotspots").parameterDefinition(
        "KEEP_FIELDS").defaultValue() is True

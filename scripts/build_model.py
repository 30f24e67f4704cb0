"""Build the shipped Graphical Modeler models in resources/models:

    oneissue.model3           Composite index for one issue (victims, offenders, locations)
    oneissuelocations.model3  Composite index for one issue (locations only)

    .venv/bin/python scripts/build_model.py [--out folder] [--check]

The models are built with the QGIS API (QgsProcessingModelAlgorithm), so every step is an
ordinary child algorithm an analyst can open, see and edit in the Modeler:

    study area ------------------> Create analysis grid
    population polygons + field -> Apportion population to zones   (victims, offenders, locations)
    victims / offenders / locations + filter -> Aggregate victims, offenders and locations
    -> Build composite index (spec made from the issue name and the roles given)
    -> Hotspot analysis (Gi*) -> Hotspot zones

The locations-only model (police.uk street-level crimes, say) needs no population: grid,
locations counted, index of the counts, hotspots, hotspot zones. In the three-role model the
victims and offenders layers are optional (the index uses the roles given); the locations are
not. Inputs are listed in the order an analyst works: the study area, the points, the grid,
the population. A model's id is its file name (``compositeindex:oneissue``).

Outputs: the index zones (styled by decile), the hotspots (styled by Gi* bin) and the hotspot
zones (outlined), each styled by its algorithm when it is loaded into the project.

``--check`` opens each written file again, checks that every child algorithm is found and that
the model validates, and exits non-zero if not.
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

MODELS_DIR = os.path.join(ROOT, "resources", "models")
ROLES_NAME = "Composite index for one issue (victims, offenders, locations)"
LOCATIONS_NAME = "Composite index for one issue (locations only)"
DOC = "models_batch_scripts.md"   # each model's Help button: its section there

# How each role enters the index of one issue: victims as a rate per 1,000 residents,
# offenders and locations as counts, all z-scored, the locations weighted double (where it
# happens matters most for placing resources), combined by the mean.
INDICATORS = {
    "victims": ("{\"field\": \"' || @issue || '_victims\", \"measure\": \"rate\", "
                "\"denominator\": \"population\", \"per\": 1000, \"scaling\": \"zscore\", "
                "\"missing\": \"zero\"}"),
    "offenders": ("{\"field\": \"' || @issue || '_offenders\", \"measure\": \"volume\", "
                  "\"scaling\": \"zscore\"}"),
    "locations": ("{\"field\": \"' || @issue || '_locations\", \"measure\": \"volume\", "
                  "\"scaling\": \"zscore\", \"weight\": 2}"),
    "locations_only": ("{\"field\": \"' || @issue || '_locations\", \"measure\": \"volume\", "
                       "\"scaling\": \"zscore\"}"),
}


def spec_expression(optional_roles, required_roles):
    """A QGIS expression writing the index spec of one issue from the model's issue name: an
    indicator for each required role, and for each optional role whose layer was given."""
    def entry(role, key=None):
        return f"'\"{role}\": {INDICATORS[key or role]}'"

    parts = [f"if(@{role} IS NULL, NULL, {entry(role)})" for role in optional_roles]
    parts += [entry(role, key) for role, key in required_roles]
    return ("'{\"themes\": [{\"name\": \"' || @issue || '_theme\", \"issues\": [{\"name\": \"' || "
            "@issue || '\", \"indicators\": {' || array_to_string(array_filter(array(" +
            ", ".join(parts) + "), @element IS NOT NULL), ', ') || '}}]}], "
            "\"aggregation\": {\"issue\": \"mean\", \"theme\": \"mean\", \"composite\": \"mean\"}}'")


ROLES_SPEC = spec_expression(["victims", "offenders"], [("locations", None)])
LOCATIONS_SPEC = spec_expression([], [("locations", "locations_only")])

COMMON_HELP = {
    "ALG_CREATOR": "Composite Index plugin",
    "study_area": "Polygon layer of the area to cover (projected CRS, e.g. EPSG:27700).",
    "locations": "Incident location points for the issue (e.g. police.uk street-level crimes).",
    "filter": "Optional filter applied to every point layer, e.g. \"issue\" = 'burglary'.",
    "issue": "Issue name: lowercase letters, digits and _ (it becomes part of field names).",
    "cell_size": "Cell width in map units (metres for EPSG:27700).",
    "grid_shape": "Square, flat-top hexagon or pointy-top hexagon.",
    "permutations": "Permutations for the hotspot p-values (0 = analytic only).",
}

HELP = {
    "oneissue": dict(COMMON_HELP, **{
        "ALG_DESC": (
            "A composite index of need for ONE issue (e.g. burglary) on a square or hexagon grid: "
            "the grid over the study area, population apportioned from census polygons, "
            "locations, victims and offenders counted in each cell, the index (victims per 1,000 "
            "residents, offenders and locations as counts, z-scored; locations weighted double), "
            "hotspots (Getis-Ord Gi* on the score, queen contiguity, permutations, FDR) and the "
            "hotspot zones. Victims and offenders are optional: the index uses the roles given. "
            "For locations only (police.uk data) without population, use the locations-only "
            "model. Open it in the Graphical Modeler to see or change any step. To run it for "
            "several issues, use 'Execute as batch process' with one row per issue (its own "
            "name, filter and outputs)."),
        "victims": "Victim points (home address) for the issue; optional.",
        "offenders": "Offender points for the issue; optional.",
        "population": "Polygons with a population count (e.g. LSOAs with Census 2021 residents).",
        "population_field": "The population field of those polygons.",
    }),
    "oneissuelocations": dict(COMMON_HELP, **{
        "ALG_DESC": (
            "A composite index of need for ONE issue from incident locations only (e.g. "
            "police.uk street-level crimes, which have neither victims nor offenders) on a "
            "square or hexagon grid: the grid over the study area, the locations counted in each "
            "cell, the index (the count, z-scored), hotspots (Getis-Ord Gi* on the score, queen "
            "contiguity, permutations, FDR) and the hotspot zones. No population is needed. Open "
            "it in the Graphical Modeler to see or change any step; run it in batch mode with "
            "one row per issue."),
    }),
}


def build(model_id="oneissue"):
    """The model ``model_id`` ("oneissue" or "oneissuelocations")."""
    from qgis.core import (
        QgsApplication,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterEnum,
        QgsProcessingParameterExpression,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterField,
        QgsProcessingParameterNumber,
        QgsProcessingParameterString,
    )
    from qgis.core import (
        QgsProcessingModelChildParameterSource as Src,
    )
    from qgis.PyQt.QtCore import QPointF, QSizeF

    from composite_index_plugin.processing.base import docs_url
    from composite_index_plugin.qgis_compat import (  # here: ROOT is on sys.path now
        ProcessingFieldParameterDataType,
        ProcessingNumberParameterType,
        ProcessingSourceType,
    )

    roles = model_id == "oneissue"
    name = ROLES_NAME if roles else LOCATIONS_NAME
    model = QgsProcessingModelAlgorithm(name, "Models", "models")
    model.setName(name)
    model.setGroup("Models")
    model.setHelpContent(dict(HELP[model_id], HELP_URL=docs_url(DOC, name)))
    model.setDesignerParameterValues({})

    x_in, x0, dx = 120.0, 430.0, 280.0
    order = []

    def parameter(definition):
        component = QgsProcessingModelParameter(definition.name())
        component.setDescription(definition.description())
        component.setPosition(QPointF(x_in, 60.0 + len(order) * 70.0))
        component.setSize(QSizeF(200.0, 30.0))
        model.addModelParameter(definition, component)
        order.append(definition.name())

    poly = [ProcessingSourceType.VectorPolygon]
    point = [ProcessingSourceType.VectorPoint]
    # the order an analyst works in: the study area, the points, the grid, the population
    parameter(QgsProcessingParameterFeatureSource("study_area", "Study area", poly))
    parameter(QgsProcessingParameterFeatureSource("locations", "Incident locations (points)",
                                                  point))
    if roles:
        parameter(QgsProcessingParameterFeatureSource("victims", "Victims (points)", point,
                                                      optional=True))
        parameter(QgsProcessingParameterFeatureSource("offenders", "Offenders (points)", point,
                                                      optional=True))
    parameter(QgsProcessingParameterExpression("filter", "Point filter", None, "locations", True))
    parameter(QgsProcessingParameterString("issue", "Issue name", "issue"))
    parameter(QgsProcessingParameterNumber("cell_size", "Cell size (map units)",
                                           ProcessingNumberParameterType.Double, 500.0, False, 1.0))
    parameter(QgsProcessingParameterEnum("grid_shape", "Cell shape",
                                         ["Square", "Hexagon (flat top)", "Hexagon (pointy top)"],
                                         defaultValue=1))
    if roles:
        parameter(QgsProcessingParameterFeatureSource("population", "Population polygons", poly))
        parameter(QgsProcessingParameterField("population_field", "Population field", "population",
                                              "population", ProcessingFieldParameterDataType.Numeric))
    parameter(QgsProcessingParameterNumber("permutations", "Hotspot permutations",
                                           ProcessingNumberParameterType.Integer, 99, False, 0, 99999))
    model.setParameterOrder(order)

    def child(alg_id, child_id, description, step, sources, outputs=None):
        c = QgsProcessingModelChildAlgorithm(alg_id)
        c.setChildId(child_id)
        c.setDescription(description)
        c.setPosition(QPointF(x0 + dx * (step % 2), 80.0 + 120.0 * step))
        c.setSize(QSizeF(230.0, 40.0))
        for key, src in sources.items():
            c.addParameterSources(key, [src])
        # every other parameter at its default, as the Modeler's dialog would fill it in
        alg = QgsApplication.processingRegistry().algorithmById(alg_id)
        if alg is None:
            raise RuntimeError(f"algorithm {alg_id} is not installed: cannot build the model")
        for definition in alg.parameterDefinitions():
            if definition.name() in sources or definition.isDestination():
                continue
            if definition.defaultValue() is not None:
                c.addParameterSources(definition.name(), [Src.fromStaticValue(definition.defaultValue())])
        if outputs:
            model_outputs = {}
            for out_name, (child_output, description_out) in outputs.items():
                out = QgsProcessingModelOutput(out_name, description_out)
                out.setChildId(child_id)
                out.setChildOutputName(child_output)
                out.setMandatory(False)
                out.setPosition(QPointF(x0 + dx * (step % 2) + 260.0, 80.0 + 120.0 * step + 40.0))
                out.setSize(QSizeF(170.0, 30.0))
                model_outputs[out_name] = out
            c.setModelOutputs(model_outputs)
        model.addChildAlgorithm(c)
        return c

    p = Src.fromModelParameter
    step = 0
    child("compositeindex:creategrid", "grid", "Create analysis grid", step, {
        "STUDY_AREA": p("study_area"), "SHAPE": p("grid_shape"), "SIZE": p("cell_size"),
        "SIZE_IS_AREA": Src.fromStaticValue(False), "KEEP": Src.fromStaticValue(0)})
    zones = Src.fromChildOutput("grid", "OUTPUT")
    if roles:
        step += 1
        child("compositeindex:apportion", "population", "Apportion population to the cells", step, {
            "SOURCES": p("population"), "FIELD": p("population_field"), "ZONES": zones,
            "OUTPUT_FIELD": Src.fromStaticValue("population")})
        zones = Src.fromChildOutput("population", "OUTPUT")
    step += 1
    points = {"LOCATIONS": p("locations"), "LOCATIONS_FILTER": p("filter")}
    if roles:
        points.update({"VICTIMS": p("victims"), "OFFENDERS": p("offenders"),
                       "VICTIMS_FILTER": p("filter"), "OFFENDERS_FILTER": p("filter")})
    child("compositeindex:aggregatepat", "aggregate",
          "Count victims, offenders and locations" if roles else "Count the locations", step,
          dict(points, ZONES=zones, ISSUE=p("issue"), KDE_BANDWIDTH=Src.fromStaticValue(0.0)))
    step += 1
    child("compositeindex:buildindex", "index", "Build the composite index", step, {
        "INPUT": Src.fromChildOutput("aggregate", "OUTPUT"),
        "SPEC": Src.fromExpression(ROLES_SPEC if roles else LOCATIONS_SPEC)},
        {"Index": ("OUTPUT", "Composite index (zones)")})
    step += 1
    child("compositeindex:hotspots", "hotspots", "Hotspot analysis (Gi*)", step, {
        "INPUT": Src.fromChildOutput("index", "OUTPUT"), "FIELD": Src.fromStaticValue("ci_score"),
        "NEIGHBOURHOOD": Src.fromStaticValue(0), "PERMUTATIONS": p("permutations"),
        "SEED": Src.fromStaticValue(12345), "FDR": Src.fromStaticValue(True)},
        {"Hotspots": ("OUTPUT", "Hotspots (Gi* bins)")})
    step += 1
    child("compositeindex:hotspotzones", "hotspotzones", "Dissolve hot cells into zones", step, {
        "INPUT": Src.fromChildOutput("hotspots", "OUTPUT"), "MIN_BIN": Src.fromStaticValue(2)},
        {"Hotspot zones": ("OUTPUT", "Hotspot zones")})
    return model


def check(path):
    """Open the saved model, check its children resolve and it validates: list of problems."""
    from qgis.core import QgsApplication, QgsProcessingModelAlgorithm

    model = QgsProcessingModelAlgorithm()
    if not model.fromFile(path):
        return [f"{path} cannot be read as a model"]
    problems = []
    registry = QgsApplication.processingRegistry()
    for child_id, c in model.childAlgorithms().items():
        if registry.algorithmById(c.algorithmId()) is None:
            problems.append(f"step {child_id}: algorithm {c.algorithmId()} is not installed")
    if problems:
        return problems
    ok, issues = model.validate()
    if not ok:
        problems.extend(issues)
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=MODELS_DIR, help="folder to write the models into")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from composite_index_plugin.processing.provider import CompositeIndexProvider
    provider = CompositeIndexProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    try:
        os.makedirs(args.out, exist_ok=True)
        for model_id in HELP:
            model = build(model_id)
            path = os.path.join(args.out, f"{model_id}.model3")
            if not model.toFile(path):
                sys.exit(f"could not write {path}")
            print(f"wrote {os.path.relpath(path, ROOT)}: {len(model.childAlgorithms())} steps, "
                  f"{len(model.parameterDefinitions())} inputs")
            if args.check:
                problems = check(path)
                if problems:
                    sys.exit("model problems:\n  " + "\n  ".join(problems))
                print("  opens and validates")
    finally:
        QgsApplication.processingRegistry().removeProvider(provider)


if __name__ == "__main__":
    main()

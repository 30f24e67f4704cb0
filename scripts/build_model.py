"""Build the shipped Graphical Modeler model resources/models/composite_index_one_issue.model3.

    .venv/bin/python scripts/build_model.py [--out path.model3] [--check]

The model is built with the QGIS API (QgsProcessingModelAlgorithm), so every step is an ordinary
child algorithm an analyst can open, see and edit in the Modeler:

    study area ------------------> Create analysis grid
    population polygons + field -> Apportion population to zones
    victims / offenders / locations + filter -> Aggregate victims, offenders and locations
    -> Build composite index (spec made from the issue name) -> Hotspot analysis (Gi*)
    -> Hotspot zones

Outputs: the index zones (styled by decile), the hotspots (styled by Gi* bin) and the hotspot
zones (outlined), each styled by its algorithm when it is loaded into the project.

``--check`` opens the written file again, checks that every child algorithm is found and that
the model validates, and exits non-zero if not.
"""
import argparse
import os
import sys

from composite_index_plugin.qgis_compat import (
    ProcessingFieldParameterDataType,
    ProcessingNumberParameterType,
    ProcessingSourceType,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

MODEL_NAME = "Composite index for one issue"
MODEL_FILE = os.path.join(ROOT, "resources", "models", "composite_index_one_issue.model3")

# The index spec for one issue, made from the model's issue name by a QGIS expression: victims
# as a rate per 1,000 residents, offenders and locations as counts, all z-scored, the locations
# weighted double (where it happens matters most for placing resources), combined by the mean.
SPEC_EXPRESSION = (
    "'{\"themes\": [{\"name\": \"' || @issue || '_theme\", \"issues\": [{\"name\": \"' || @issue || "
    "'\", \"indicators\": {"
    "\"victims\": {\"field\": \"' || @issue || '_victims\", \"measure\": \"rate\", "
    "\"denominator\": \"population\", \"per\": 1000, \"scaling\": \"zscore\", \"missing\": \"zero\"}, "
    "\"offenders\": {\"field\": \"' || @issue || '_offenders\", \"measure\": \"volume\", "
    "\"scaling\": \"zscore\"}, "
    "\"locations\": {\"field\": \"' || @issue || '_locations\", \"measure\": \"volume\", "
    "\"scaling\": \"zscore\", \"weight\": 2}}}]}], "
    "\"aggregation\": {\"issue\": \"mean\", \"theme\": \"mean\", \"composite\": \"mean\"}}'"
)

HELP = {
    "ALG_DESC": (
        "A composite index of need for ONE issue (e.g. burglary) on a square or hexagon grid: "
        "the grid over the study area, population apportioned from census polygons, victims, "
        "offenders and locations counted in each cell, the index (victims per 1,000 residents, "
        "offenders and locations as counts, z-scored; locations weighted double), hotspots "
        "(Getis-Ord Gi* on the score, queen contiguity, permutations, FDR) and the hotspot "
        "zones. Open it in the Graphical Modeler to see or change any step. To run it for "
        "several issues, use 'Execute as batch process' with one row per issue (its own name, "
        "filter and outputs)."),
    "ALG_CREATOR": "Composite Index plugin",
    "study_area": "Polygon layer of the area to cover (projected CRS, e.g. EPSG:27700).",
    "victims": "Victim points (home address) for the issue.",
    "offenders": "Offender points for the issue.",
    "locations": "Incident location points for the issue.",
    "filter": "Optional filter applied to all three point layers, e.g. \"issue\" = 'burglary'.",
    "issue": "Issue name: lowercase letters, digits and _ (it becomes part of field names).",
    "population": "Polygons with a population count (e.g. LSOAs with Census 2021 residents).",
    "population_field": "The population field of those polygons.",
    "cell_size": "Cell width in map units (metres for EPSG:27700).",
    "grid_shape": "Square, flat-top hexagon or pointy-top hexagon.",
    "permutations": "Permutations for the hotspot p-values (0 = analytic only).",
}


def build():
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

    model = QgsProcessingModelAlgorithm(MODEL_NAME, "Models", "models")
    model.setName(MODEL_NAME)
    model.setGroup("Models")
    model.setHelpContent(HELP)
    model.setDesignerParameterValues({})

    x_in, x0, dx = 120.0, 430.0, 280.0

    def parameter(definition, row, col=0):
        component = QgsProcessingModelParameter(definition.name())
        component.setDescription(definition.description())
        component.setPosition(QPointF(x_in + col * 230.0, 60.0 + row * 70.0))
        component.setSize(QSizeF(200.0, 30.0))
        model.addModelParameter(definition, component)

    poly = [ProcessingSourceType.VectorPolygon]
    point = [ProcessingSourceType.VectorPoint]
    parameter(QgsProcessingParameterFeatureSource("study_area", "Study area", poly), 0)
    parameter(QgsProcessingParameterNumber("cell_size", "Cell size (map units)",
                                           ProcessingNumberParameterType.Double, 500.0, False, 1.0), 1)
    parameter(QgsProcessingParameterEnum("grid_shape", "Cell shape",
                                         ["Square", "Hexagon (flat top)", "Hexagon (pointy top)"],
                                         defaultValue=1), 2)
    parameter(QgsProcessingParameterFeatureSource("population", "Population polygons", poly), 3)
    parameter(QgsProcessingParameterField("population_field", "Population field", "population",
                                          "population", ProcessingFieldParameterDataType.Numeric), 4)
    parameter(QgsProcessingParameterString("issue", "Issue name", "issue"), 5)
    parameter(QgsProcessingParameterFeatureSource("victims", "Victims (points)", point), 6)
    parameter(QgsProcessingParameterFeatureSource("offenders", "Offenders (points)", point), 7)
    parameter(QgsProcessingParameterFeatureSource("locations", "Incident locations (points)", point), 8)
    parameter(QgsProcessingParameterExpression("filter", "Point filter (optional)",
                                               None, "victims", True), 9)
    parameter(QgsProcessingParameterNumber("permutations", "Hotspot permutations",
                                           ProcessingNumberParameterType.Integer, 99, False, 0, 99999), 10)

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
            for name, (child_output, description_out) in outputs.items():
                out = QgsProcessingModelOutput(name, description_out)
                out.setChildId(child_id)
                out.setChildOutputName(child_output)
                out.setMandatory(False)
                out.setPosition(QPointF(x0 + dx * (step % 2) + 260.0, 80.0 + 120.0 * step + 40.0))
                out.setSize(QSizeF(170.0, 30.0))
                model_outputs[name] = out
            c.setModelOutputs(model_outputs)
        model.addChildAlgorithm(c)
        return c

    p = Src.fromModelParameter
    child("compositeindex:creategrid", "grid", "Create analysis grid", 0, {
        "STUDY_AREA": p("study_area"), "SHAPE": p("grid_shape"), "SIZE": p("cell_size"),
        "SIZE_IS_AREA": Src.fromStaticValue(False), "KEEP": Src.fromStaticValue(0)})
    child("compositeindex:apportion", "population", "Apportion population to the cells", 1, {
        "SOURCES": p("population"), "FIELD": p("population_field"),
        "ZONES": Src.fromChildOutput("grid", "OUTPUT"),
        "OUTPUT_FIELD": Src.fromStaticValue("population")})
    child("compositeindex:aggregatepat", "aggregate", "Count victims, offenders and locations", 2, {
        "ZONES": Src.fromChildOutput("population", "OUTPUT"), "ISSUE": p("issue"),
        "VICTIMS": p("victims"), "OFFENDERS": p("offenders"), "LOCATIONS": p("locations"),
        "VICTIMS_FILTER": p("filter"), "OFFENDERS_FILTER": p("filter"),
        "LOCATIONS_FILTER": p("filter"), "KDE_BANDWIDTH": Src.fromStaticValue(0.0)})
    child("compositeindex:buildindex", "index", "Build the composite index", 3, {
        "INPUT": Src.fromChildOutput("aggregate", "OUTPUT"),
        "SPEC": Src.fromExpression(SPEC_EXPRESSION)},
        {"Index": ("OUTPUT", "Composite index (zones)")})
    child("compositeindex:hotspots", "hotspots", "Hotspot analysis (Gi*)", 4, {
        "INPUT": Src.fromChildOutput("index", "OUTPUT"), "FIELD": Src.fromStaticValue("ci_score"),
        "NEIGHBOURHOOD": Src.fromStaticValue(0), "PERMUTATIONS": p("permutations"),
        "SEED": Src.fromStaticValue(12345), "FDR": Src.fromStaticValue(True)},
        {"Hotspots": ("OUTPUT", "Hotspots (Gi* bins)")})
    child("compositeindex:hotspotzones", "hotspotzones", "Dissolve hot cells into zones", 5, {
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
    parser.add_argument("--out", default=MODEL_FILE)
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
        model = build()
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        if not model.toFile(args.out):
            sys.exit(f"could not write {args.out}")
        print(f"wrote {os.path.relpath(args.out, ROOT)}: {len(model.childAlgorithms())} steps, "
              f"{len(model.parameterDefinitions())} inputs")
        if args.check:
            problems = check(args.out)
            if problems:
                sys.exit("model problems:\n  " + "\n  ".join(problems))
            print("model opens and validates")
    finally:
        QgsApplication.processingRegistry().removeProvider(provider)


if __name__ == "__main__":
    main()

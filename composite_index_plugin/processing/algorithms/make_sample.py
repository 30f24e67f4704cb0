"""compositeindex:makesample - the synthetic Birmingham sample (points and agency CSVs)."""
from qgis.core import (
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import synth
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.qgis_compat import ProcessingNumberParameterType

SIZE_NAMES = list(synth.SIZES)


class MakeSampleAlgorithm(CompositeIndexAlgorithm):
    NAME = "makesample"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Generate synthetic Birmingham sample")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Sample data")
    GROUP_ID = "sample"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
            "Writes SYNTHETIC victims, offenders and incident locations for 8 issues in 3 themes "
            "over Birmingham's real LSOAs (Census 2021 population, IMD 2025 crime domain), with "
            "planted hotspots that cross ward and constituency boundaries, for each year asked. "
            "Per year: synthetic_<year>.gpkg (layers synthetic_locations, synthetic_victims, "
            "synthetic_offenders) and agency_csv/ with the files three agencies would send "
            "(police lon/lat, council eastings/northings, probation postcodes + lookup), each "
            "with a few dirty rows. Not real crime data."))

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterEnum(
            "SIZE", self.tr("Size"), options=[f"{k} (about {v:,} points a year)"
                                              for k, v in synth.SIZES.items()], defaultValue=1))
        self.addParameter(QgsProcessingParameterNumber(
            "SEED", self.tr("Random seed"), ProcessingNumberParameterType.Integer, 2024))
        self.addParameter(QgsProcessingParameterString(
            "YEARS", self.tr("Years (comma separated)"), "2024,2025"))
        self.addParameter(QgsProcessingParameterFolderDestination(
            "OUTPUT_FOLDER", self.tr("Output folder")))
        self.addOutput(QgsProcessingOutputString("SUMMARY", self.tr("What was written")))

    def processAlgorithm(self, parameters, context, feedback):
        from composite_index_plugin.processing import sample_io

        size = SIZE_NAMES[self.parameterAsEnum(parameters, "SIZE", context)]
        seed = self.parameterAsInt(parameters, "SEED", context)
        text = self.parameterAsString(parameters, "YEARS", context)
        try:
            years = [int(y) for y in text.replace(" ", "").split(",") if y]
        except ValueError as err:
            from qgis.core import QgsProcessingException
            raise QgsProcessingException(f"Years must be whole numbers separated by commas, not "
                                         f"{text!r}.") from err
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        made = self.run_core(sample_io.make_sample, folder, size=size, seed=seed, years=years,
                             progress=progress_from_feedback(feedback))
        lines = []
        for year, info in made.items():
            counts = ", ".join(f"{k} {v:,}" for k, v in info["counts"].items())
            lines.append(f"{year}: {info['gpkg']} ({counts}); CSVs: "
                         + ", ".join(info["csv"].values()))
        for line in lines:
            feedback.pushInfo(line)
        return {"OUTPUT_FOLDER": folder, "SUMMARY": "\n".join(lines)}


ALGORITHMS = [MakeSampleAlgorithm]

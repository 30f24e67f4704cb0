"""compositeindex:newrecipe - write a complete recipe from a police.uk archive (a quick start).

Glue: reads the archive (``core.policeuk``) and the layers, writes the areas the recipe needs
(study area, small areas, admin areas) into a GeoPackage next to the recipe with OGR, and the
recipe from ``core.quickstart.recipe_for``. The recipe is checked by the model before it is
written.
"""
import json
import os
import time

import pandas as pd
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import model, vocab
from composite_index_plugin.core import policeuk as pu
from composite_index_plugin.core import quickstart as qs
from composite_index_plugin.core.cleanse import map_categories, read_category_mapping
from composite_index_plugin.core.sandbox import Sandbox
from composite_index_plugin.i18n import translated
from composite_index_plugin.paths import resource_path
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.transaction import TMP_TAG
from composite_index_plugin.qgis_compat import (
    ProcessingFileParameterBehavior,
    ProcessingNumberParameterType,
    ProcessingSourceType,
)


def _value(v):
    return None if (v is None or (hasattr(v, "isNull") and v.isNull())) else v


class _Areas:
    """Polygons read from a layer, in the recipe's CRS: geometries and the attribute columns
    ``fields`` (None: every field)."""

    def __init__(self, source, crs, context, fields=None):
        tr = QgsCoordinateTransform(source.sourceCrs(), crs, context.transformContext())
        names = source.fields().names()
        fields = [f for f in (names if fields is None else fields) if f in names]
        self.geoms, self.columns = [], {f: [] for f in fields}
        request = QgsFeatureRequest()
        if fields:   # only the fields asked for ([]: none; None: all)
            request.setSubsetOfAttributes(fields, source.fields())
        else:
            request.setNoAttributes()
        for feature in source.getFeatures(request):
            g = QgsGeometry(feature.geometry())
            if g.isNull() or g.isEmpty():
                continue
            if not g.isGeosValid():
                g = g.makeValid()
            g.transform(tr)
            self.geoms.append(g)
            for f in fields:
                self.columns[f].append(_value(feature[f]))

    def __len__(self):
        return len(self.geoms)


def _write_layer(path, name, crs, rows, fields, first):
    """Write ``rows`` [(QgsGeometry, {field: value})] as a MultiPolygon layer ``name`` of the
    GeoPackage ``path`` with text ``fields`` (OGR; a new file when ``first``)."""
    from osgeo import ogr, osr

    if first and os.path.exists(path):
        os.remove(path)
    driver = ogr.GetDriverByName("GPKG")
    ds = driver.CreateDataSource(path) if first else ogr.Open(path, 1)
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs.toWkt())
    layer = ds.CreateLayer(name, srs, ogr.wkbMultiPolygon, ["GEOMETRY_NAME=geom"])
    for f in fields:
        layer.CreateField(ogr.FieldDefn(f, ogr.OFTString))
    defn = layer.GetLayerDefn()
    layer.StartTransaction()
    for geom, values in rows:
        feature = ogr.Feature(defn)
        g = ogr.CreateGeometryFromWkb(bytes(geom.asWkb()))
        if g.GetGeometryType() in (ogr.wkbPolygon, ogr.wkbPolygon25D):
            g = ogr.ForceToMultiPolygon(g)
        feature.SetGeometry(g)
        for f in fields:
            if values.get(f) is not None:
                feature.SetField(f, str(values[f]))
        layer.CreateFeature(feature)
    layer.CommitTransaction()
    ds = None


def _intersecting(geoms, area):
    """Indices of ``geoms`` whose interior overlaps ``area`` (touching only is not enough)."""
    engine = QgsGeometry.createGeometryEngine(area.constGet())
    engine.prepareGeometry()
    box = area.boundingBox()
    out = []
    for i, g in enumerate(geoms):
        if g.boundingBox().intersects(box) and engine.intersects(g.constGet()) and \
                not engine.touches(g.constGet()):
            out.append(i)
    return out


def _union(geoms):
    return QgsGeometry.unaryUnion(geoms) if len(geoms) > 1 else geoms[0]


class NewRecipeAlgorithm(CompositeIndexAlgorithm):
    NAME = "newrecipe"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "New recipe from police.uk data")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Assessment")
    GROUP_ID = "assessment"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
        "A quick start: writes a complete recipe for 'Run assessment from recipe' from a "
        "police.uk download, so that the analyst edits a recipe rather than writing one.\n\n"
        "ARCHIVE: the .zip from data.police.uk (street-level crime) or the folder it was "
        "unpacked into; MONTHS picks the first and last month (e.g. 2018-01,2018-12; empty: "
        "all), FORCES the forces (empty: all). The recipe's period is those months ('2018', "
        "'2018/19', '2018-07' or '2016-07 to 2017-07'), and the import reads the months of the "
        "period.\n\n"
        "The study area: STUDY_AREA, or, without it, the small areas (BOUNDARIES, e.g. LSOAs) "
        "of the districts holding the crimes - police.uk names each crime's LSOA ('Leeds 001A'), "
        "the district is the name without its number, and districts with at least 1 % of the "
        "crimes are kept (a force's file holds a few crimes of its neighbours). The recipe's "
        "study area gets a 50 m buffer, so crimes police.uk snapped just outside generalised "
        "boundaries are kept and counted.\n\n"
        "Admin areas (for the summaries and the atlas): ADMIN_AREAS with its name field, or the "
        "small areas dissolved by ADMIN_FIELD (small-area names such as 'Leeds 001A' give "
        "'Leeds'); by default the districts of the small areas' names. Population: a table of "
        "counts by area code (POPULATION_TABLE, e.g. a census CSV), joined to the small areas "
        "(codes and the count column guessed unless named).\n\n"
        "Issues and themes: each police.uk crime type found in the months becomes an issue, "
        "counted where it happens on a GRID_SIZE grid, all in one pass: neighbourhood crime "
        "(burglary, robbery, vehicle crime, theft from the person), violence and vulnerability "
        "(violence and sexual offences, possession of weapons, drugs), other acquisitive crime "
        "(shoplifting, bicycle theft, other theft), anti-social behaviour and disorder "
        "(anti-social behaviour unless left out, criminal damage and arson, public order, other "
        "crime). PREVIOUS (an earlier period's results.gpkg) adds a comparison.\n\n"
        "Writes the recipe (OUTPUT) and <recipe name>_areas.gpkg next to it; paths in the recipe "
        "are relative to it."))

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(
            "ARCHIVE", self.tr("police.uk archive (.zip, or the folder it was unpacked into)"),
            ProcessingFileParameterBehavior.File, fileFilter="ZIP archives (*.zip *.ZIP)"))
        self.addParameter(QgsProcessingParameterString(
            "MONTHS", self.tr("Months: first,last (yyyy-mm,yyyy-mm; empty: all)"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            "FORCES", self.tr("Forces (','-separated, e.g. west-yorkshire; empty: all)"),
            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "STUDY_AREA", self.tr("Study area (empty: the small areas of the districts holding "
                                  "the crimes)"), [ProcessingSourceType.VectorPolygon],
            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "BOUNDARIES", self.tr("Small areas, e.g. LSOAs (for the study area, the districts "
                                  "and population)"), [ProcessingSourceType.VectorPolygon],
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            "BOUNDARY_CODE", self.tr("Small areas: code field (empty: guessed from the crimes)"),
            None, "BOUNDARIES", optional=True))
        self.addParameter(QgsProcessingParameterField(
            "BOUNDARY_NAME", self.tr("Small areas: name field (empty: guessed from the crimes)"),
            None, "BOUNDARIES", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "GRID_SIZE", self.tr("Grid cell size (metres)"), ProcessingNumberParameterType.Double,
            qs.GRID_SIZE, minValue=1.0))
        self.addParameter(QgsProcessingParameterEnum(
            "GRID_SHAPE", self.tr("Cell shape"),
            options=[translated(t) for t in vocab.GRID_SHAPE_TITLES],
            defaultValue=vocab.position(vocab.GRID_SHAPES, model.Geography.key("shape").default)))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "ADMIN_AREAS", self.tr("Admin areas (empty: dissolved from the small areas)"),
            [ProcessingSourceType.VectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterField(
            "ADMIN_NAME_FIELD", self.tr("Admin areas: name field"), None, "ADMIN_AREAS",
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            "ADMIN_FIELD", self.tr("Or admin areas dissolved from this field of the small areas "
                                   "(empty: districts from their names)"), None, "BOUNDARIES",
            optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "POPULATION_TABLE", self.tr("Population: table of counts by area code (CSV)"),
            ProcessingFileParameterBehavior.File, fileFilter="CSV (*.csv *.txt)", optional=True))
        self.addParameter(QgsProcessingParameterString(
            "POPULATION_KEY", self.tr("Population table: code column (empty: guessed)"),
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            "POPULATION_FIELD", self.tr("Population table: count column (empty: guessed)"),
            optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "ASB", self.tr("Count anti-social behaviour (an issue of the ASB and disorder theme)"),
            True))
        self.addParameter(QgsProcessingParameterFile(
            "PREVIOUS", self.tr("Compare with an earlier period: its results.gpkg"),
            ProcessingFileParameterBehavior.File, fileFilter="GeoPackage (*.gpkg)", optional=True))
        self.addParameter(QgsProcessingParameterString(
            "PREVIOUS_LABEL", self.tr("The earlier period's label"), optional=True))
        self.addParameter(QgsProcessingParameterCrs(
            "CRS", self.tr("Analysis CRS (projected, metres)"), "EPSG:27700", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT", self.tr("Recipe"), self.tr("Recipes (*.json)")))
        self.addOutput(QgsProcessingOutputFile("AREAS", self.tr("Areas GeoPackage")))
        self.addOutput(QgsProcessingOutputNumber("ISSUES", self.tr("Issues")))
        self.addOutput(QgsProcessingOutputString("PERIOD", self.tr("Period")))

    def checkParameterValues(self, parameters, context):
        """ARCHIVE may be a folder (the archive unpacked), which a file parameter refuses."""
        archive = parameters.get("ARCHIVE")
        if isinstance(archive, str) and os.path.isdir(archive.strip()):
            rest = {k: v for k, v in parameters.items() if k != "ARCHIVE"}
            for definition in self.parameterDefinitions():
                if definition.name() != "ARCHIVE" and not definition.isDestination() and \
                        not definition.checkValueIsAcceptable(rest.get(definition.name()),
                                                              context):
                    return False, self.tr("Incorrect parameter value for {name}").format(
                        name=definition.name())
            return True, ""
        return super().checkParameterValues(parameters, context)

    @guarded   # PostGIS inputs (boundaries, study area, admin areas): a lost connection is clear
    def processAlgorithm(self, parameters, context, feedback):
        # The recipe is written aside and swapped in when the algorithm has finished
        # (processing.transaction); names in it follow its final name. The areas GeoPackage is
        # written aside too and moved in last.
        out_path = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        tx = getattr(self, "_ci_transaction", None)
        final_path = tx.final_id(out_path) if tx is not None else out_path
        folder = os.path.dirname(os.path.abspath(final_path))
        os.makedirs(folder, exist_ok=True)
        stem = os.path.splitext(os.path.basename(final_path))[0]
        areas_path = os.path.join(folder, f"{stem}_areas.gpkg")
        areas_tmp = os.path.join(folder, f".{stem}_areas.{TMP_TAG}-{os.getpid()}.gpkg")
        try:
            result = self._new_recipe(parameters, context, feedback, out_path, final_path,
                                      areas_path, areas_tmp)
            os.replace(areas_tmp, areas_path)
        finally:
            if os.path.exists(areas_tmp):
                os.remove(areas_tmp)
        return result

    def _new_recipe(self, parameters, context, feedback, out_path, final_path, areas_path,
                    areas_tmp):
        t0 = time.perf_counter()
        archive = (self.parameterAsFile(parameters, "ARCHIVE", context) or "").strip()
        if not archive or not os.path.exists(archive):
            raise QgsProcessingException(f"The police.uk archive '{archive}' does not exist: give "
                                         "the .zip file or the folder it was unpacked into.")
        folder = os.path.dirname(areas_path)
        stem = os.path.splitext(os.path.basename(final_path))[0]
        crs = self.parameterAsCrs(parameters, "CRS", context)
        if not crs.isValid():
            crs = QgsCoordinateReferenceSystem("EPSG:27700")
        if crs.isGeographic():
            raise QgsProcessingException(f"The analysis CRS ({crs.authid()}) must be projected, "
                                         "in metres (EPSG:27700 in Great Britain).")

        # The crimes: which months, forces, crime types and small areas ----------------------
        months = self.parameterAsString(parameters, "MONTHS", context).strip() or None
        forces = self.parameterAsString(parameters, "FORCES", context).strip() or None
        listing = self.run_core(pu.list_archive, archive, months, forces)
        feedback.pushInfo("police.uk archive: " + listing.describe())
        tables, _infos = self.run_core(pu.read_archive, listing, None, None,
                                       progress_from_feedback(feedback, 0, 30))
        crimes = pd.concat([t for t, _name in tables], ignore_index=True)
        for column in ("Crime type", "LSOA code", "LSOA name"):
            if column not in crimes.columns:
                raise QgsProcessingException(
                    f"The archive's street files have no '{column}' column: are they police.uk "
                    "street-level files?")
        first, last = min(f.month for f in listing.files), max(f.month for f in listing.files)
        if listing.months:
            first, last = listing.months
        chosen_forces = sorted({f.force for f in listing.files}) if forces else None
        mapping = self.run_core(read_category_mapping,
                                resource_path("presets", "policeuk_crime_types.csv"))
        issue_of, _ = map_categories(crimes["Crime type"].to_numpy(object), mapping)
        counts = pd.Series(issue_of).value_counts()
        unmapped = int(counts.get("", 0))
        counts = counts[counts.index != ""]
        if not self.parameterAsBool(parameters, "ASB", context):
            counts = counts[counts.index != qs.ASB]
        if counts.empty:
            raise QgsProcessingException("No crime of a police.uk crime type in the months read.")
        issues = [i for _n, _l, members in qs.THEMES for i in members if i in counts.index]
        issues += [i for i in counts.index if i not in issues]
        labels = {}
        for category, issue in mapping.items():
            labels.setdefault(issue, category)
        feedback.pushInfo(f"{len(crimes):,} rows, {len(issues)} crime type(s): " + ", ".join(
            f"{labels.get(i, i)} {int(counts[i]):,}" for i in issues)
            + (f"; {unmapped:,} row(s) of no known crime type" if unmapped else "") + ".")

        # Small areas, study area, admin areas ------------------------------------------------
        boundaries = self.parameterAsSource(parameters, "BOUNDARIES", context)
        study = self.parameterAsSource(parameters, "STUDY_AREA", context)
        admin = self.parameterAsSource(parameters, "ADMIN_AREAS", context)
        if study is None and boundaries is None:
            raise QgsProcessingException(
                "Give a study area (STUDY_AREA), or the small areas (BOUNDARIES, e.g. LSOAs) "
                "whose districts holding the crimes make it.")
        written = []

        def write(name, rows, fields):
            _write_layer(areas_tmp, name, crs, rows, fields, first=not written)
            written.append(name)
            return {"path": os.path.basename(areas_path), "layer": name}

        small = code_field = name_field = small_ref = study_union = None
        if study is not None:
            area = _Areas(study, crs, context, fields=[])
            if not len(area):
                raise QgsProcessingException("The study area layer has no polygons.")
            study_union = _union(area.geoms)
        if boundaries is not None:
            feedback.setProgressText("Reading the small areas")
            small = _Areas(boundaries, crs, context)
            code_field = self.parameterAsString(parameters, "BOUNDARY_CODE", context) or None
            name_field = self.parameterAsString(parameters, "BOUNDARY_NAME", context) or None
            if code_field is None or name_field is None:
                code_guess, name_guess = qs.guess_boundary_fields(
                    small.columns, crimes["LSOA code"].unique(), crimes["LSOA name"].unique())
                code_field = code_field or code_guess
                name_field = name_field or name_guess
            feedback.pushInfo(f"Small areas: {len(small):,} polygons; code field "
                              f"{code_field or '(none found)'}, name field "
                              f"{name_field or '(none found)'}.")
            if study_union is not None:
                keep = _intersecting(small.geoms, study_union)
                feedback.pushInfo(f"{len(keep):,} small areas overlap the study area.")
            else:
                keep = self._small_areas_kept(small, crimes, code_field, name_field, feedback)
            if study is None and not keep:
                raise QgsProcessingException(
                    "No small area of BOUNDARIES is one the crimes fall in: are they the small "
                    "areas police.uk names (the census year of its 'LSOA code' column)?")
            districts = qs.districts(small.columns[name_field]) if name_field else None
            rows = []
            for i in keep:
                values = {"code": small.columns[code_field][i] if code_field else None,
                          "name": small.columns[name_field][i] if name_field else None,
                          "district": districts[i] if districts is not None else None}
                rows.append((small.geoms[i], values))
            small_ref = write("small_areas", rows, ["code", "name", "district"]) if rows else None
        if study is not None:
            study_ref = write("study_area", [(study_union, {})], [])
            how = f"the layer {study.sourceName()}"
        else:
            feedback.setProgressText("Dissolving the small areas into the study area")
            study_ref = write("study_area", [(_union([small.geoms[i] for i in keep]), {})], [])
            how = f"the {len(keep):,} small areas of the districts holding the crimes"
        feedback.pushInfo(f"Study area: {how} (layer study_area of {os.path.basename(areas_path)}"
                          f"), buffered by {qs.STUDY_BUFFER:g} m in the recipe.")

        admin_ref = None
        if admin is not None:
            name = self.parameterAsString(parameters, "ADMIN_NAME_FIELD", context) or next(
                (f for f in admin.fields().names() if "name" in f.lower() or f.lower().endswith(
                    "nm")), admin.fields().names()[0] if admin.fields().names() else None)
            areas = _Areas(admin, crs, context, fields=[name] if name else [])
            rows = [(g, {"name": areas.columns[name][k] if name else str(k + 1)})
                    for k, g in enumerate(areas.geoms)]
            admin_ref = dict(write("admin_areas", rows, ["name"]), name_field="name")
            feedback.pushInfo(f"Admin areas: {len(rows):,} from {admin.sourceName()}.")
        elif small is not None and small_ref is not None:
            field = self.parameterAsString(parameters, "ADMIN_FIELD", context) or name_field
            if field:
                values = qs.districts(small.columns[field])
                groups = {}
                for i in keep:
                    if values[i]:
                        groups.setdefault(values[i], []).append(small.geoms[i])
                feedback.setProgressText("Dissolving the small areas into admin areas")
                rows = [(_union(g), {"name": n}) for n, g in sorted(groups.items())]
                admin_ref = dict(write("admin_areas", rows, ["name"]), name_field="name")
                feedback.pushInfo(f"Admin areas: {len(rows):,} dissolved from the small areas' "
                                  f"'{field}' ({', '.join(v['name'] for _g, v in rows[:12])}"
                                  + (" ..." if len(rows) > 12 else "") + ").")

        # Population ------------------------------------------------------------------------
        population = None
        table = (self.parameterAsFile(parameters, "POPULATION_TABLE", context) or "").strip()
        if table:
            if small is None or not code_field or small_ref is None:
                raise QgsProcessingException(
                    "A population table by area code needs the small areas (BOUNDARIES) with "
                    "their code field (BOUNDARY_CODE).")
            columns = self.run_core(qs.read_csv_columns, table)
            key, field = self.run_core(
                qs.guess_table_fields, columns, [small.columns[code_field][i] for i in keep],
                self.parameterAsString(parameters, "POPULATION_KEY", context) or None,
                self.parameterAsString(parameters, "POPULATION_FIELD", context) or None)
            population = dict(small_ref, source_key="code", table=qs.relative(table, folder),
                              table_key=key, table_field=field)
            feedback.pushInfo(f"Population: '{field}' of {os.path.basename(table)}, joined on "
                              f"'{key}' to the small areas' codes.")

        previous = (self.parameterAsFile(parameters, "PREVIOUS", context) or "").strip()
        doc = qs.recipe_for(
            qs.relative(os.path.abspath(archive), folder), (first, last), chosen_forces, issues,
            study_ref, grid_size=self.parameterAsDouble(parameters, "GRID_SIZE", context),
            shape=vocab.GRID_SHAPES[self.parameterAsEnum(parameters, "GRID_SHAPE", context)],
            crs=crs.authid(), admin_areas=admin_ref, population=population,
            previous=qs.relative(previous, folder) if previous else None,
            previous_label=self.parameterAsString(parameters, "PREVIOUS_LABEL", context) or None,
            output_folder=f"{stem}_output", labels=labels,
            title=qs.force_title(sorted({f.force for f in listing.files})))
        if float(doc["geography"]["size"]).is_integer():
            doc["geography"]["size"] = int(doc["geography"]["size"])
        if previous:
            self._previous_baseline(doc, previous, folder, feedback)
        _recipe, problems = model.parse(doc)
        if problems:   # a defect of this algorithm, never of the analyst's data
            raise QgsProcessingException("The recipe written would not be valid: "
                                         + "; ".join(str(p) for p in problems))
        with open(out_path, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        outside = sorted({os.path.dirname(os.path.abspath(p)) for p in (archive, table, previous)
                          if p and not Sandbox([folder]).contains(p)})
        if outside:   # core.sandbox: a run reads only inside the recipe's folder unless allowed
            feedback.reportError(
                "The recipe reads files outside its folder (" + "; ".join(outside) + "): run it "
                "with those folders allowed (runrecipe's ALLOWED_FOLDERS, e.g. ALLOWED_FOLDERS="
                + ";".join(outside) + "; the Builder allows the folders of the files it shows), "
                "or write the recipe next to the data.", False)
        feedback.pushInfo(f"Recipe written: {final_path} ({len(issues)} issues in "
                          f"{len(doc['themes'])} themes, period {doc['period']}), areas in "
                          f"{areas_path}, in {time.perf_counter() - t0:.1f} s. Run it with "
                          "'Run assessment from recipe' (compositeindex:runrecipe).")
        return {"OUTPUT": out_path, "AREAS": areas_path, "ISSUES": len(issues),
                "PERIOD": doc["period"]}

    @staticmethod
    def _previous_baseline(doc, previous, folder, feedback):
        """Scores on the earlier period's scale: its baseline.json (next to its results) is
        read when it was fitted for the same index (same issues and choices), so the gap and
        the scores compare like with like; otherwise each period is scaled on its own."""
        from composite_index_plugin.core.index import spec_fingerprint

        path = os.path.join(os.path.dirname(os.path.abspath(previous)), "baseline.json")
        if not os.path.isfile(path):
            feedback.pushInfo(f"No baseline.json next to {previous}: each period is scaled on "
                              "its own.")
            return
        try:
            with open(path, encoding="utf-8") as handle:
                fitted = json.load(handle).get("spec_fingerprint")
        except (OSError, ValueError, AttributeError):
            fitted = None
        recipe, problems = model.parse(doc)
        if problems or fitted != spec_fingerprint(recipe.index_spec_dict()):
            feedback.reportError(
                f"The earlier period's baseline ({path}) was fitted for another index (other "
                "issues or choices): this period is scaled on its own, so its scores are not on "
                "the earlier scale.", False)
            return
        doc["baseline"] = {"read": qs.relative(path, folder)}
        feedback.pushInfo(f"Scores on the earlier period's scale: baseline {path}.")

    @staticmethod
    def _small_areas_kept(small, crimes, code_field, name_field, feedback):
        """Rows of the small areas in the districts holding the crimes (by name), or, without a
        name field, those whose code the crimes name."""
        if name_field:
            kept, dropped = pu.areas_holding(crimes["LSOA name"].to_numpy(object))
            districts = qs.districts(small.columns[name_field])
            keep = [i for i, d in enumerate(districts) if d in kept]
            feedback.pushInfo(
                f"Districts holding the crimes (at least {pu.DEFAULT_MIN_SHARE:.0%} of those "
                f"with a small area): {', '.join(f'{k} {v:,}' for k, v in kept.items())}"
                + (f"; left out: {', '.join(f'{k} {v:,}' for k, v in dropped.items())}"
                   if dropped else "") + f". {len(keep):,} small areas are in them.")
            return keep
        if code_field:
            codes = set(crimes["LSOA code"].astype(str).str.strip())
            keep = [i for i, c in enumerate(small.columns[code_field]) if str(c).strip() in codes]
            feedback.pushInfo(f"{len(keep):,} small areas hold at least one crime (no name "
                              "field: by code).")
            return keep
        raise QgsProcessingException(
            "The small areas have no field holding the crimes' LSOA codes or names: name them "
            "(BOUNDARY_CODE, BOUNDARY_NAME), or give a study area.")


ALGORITHMS = [NewRecipeAlgorithm]

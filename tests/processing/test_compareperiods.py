"""compositeindex:compareperiods through processing.run, on hand-made layers."""
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsRectangle,
    QgsVectorLayer,
)

from tests.processing.test_summariseareas import area_layer


def period(scores, bins, ids=None, baseline=None, size=1000, order=None):
    fields = ("field=cell_id:string&field=ci_score:double&field=gi_bin:integer"
              "&field=ci_baseline:string&field=grid_shape:string&field=grid_size:double"
              "&field=grid_x0:double&field=grid_y0:double")
    layer = QgsVectorLayer(f"Polygon?crs=EPSG:27700&{fields}", "period", "memory")
    ids = ids or [f"S1000_r0_c{i}" for i in range(len(scores))]
    feats = []
    for i in (order or range(len(scores))):
        f = QgsFeature(layer.fields())
        f.setAttributes([ids[i], float(scores[i]), int(bins[i]), baseline, "square", size, 0.0, 0.0])
        f.setGeometry(QgsGeometry.fromRect(QgsRectangle(i * 1000, 0, (i + 1) * 1000, 1000)))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def _run(params, feedback=None):
    import processing

    return processing.run("compositeindex:compareperiods", params, context=QgsProcessingContext(),
                          feedback=feedback or QgsProcessingFeedback())


def _by_id(layer):
    names = [f.name() for f in layer.fields()]
    return {f["cell_id"]: dict(zip(names, f.attributes())) for f in layer.getFeatures()}


S1 = [10.0 - i for i in range(10)]
B1 = [3, 2, 0, 0, 0, 0, 0, 0, 0, 0]
S2 = [12, 1, 2, 3, 4, 5, 6, 7, 10, 9]
B2 = [0, 0, 0, 0, 0, 0, 0, 0, 2, 2]


def test_two_periods_with_a_shared_baseline(provider):
    p1 = period(S1, B1, baseline="abc123")
    p2 = period(S2, B2, baseline="abc123", order=list(range(9, -1, -1)))
    res = _run({"PERIODS": [p1, p2], "LABELS": "2023, 2024", "AREAS": area_layer(),
                "AREA_NAME_FIELD": "name", "OUTPUT": "memory:", "GAPS": "memory:"})
    out = _by_id(res["OUTPUT"])
    assert res["OUTPUT"].featureCount() == 10
    z0, z8 = out["S1000_r0_c0"], out["S1000_r0_c8"]
    assert z0["score_change"] == 2 and z0["rank_change"] == 0
    assert z0["hotspot_transition"] == "ended" and z8["hotspot_transition"] == "new"
    assert z8["rank_2024"] == 2 and z8["rank_change"] == 7 and z8["decile_change"] == 7
    gaps = {(f["period"], f["area_name"]): f for f in res["GAPS"].getFeatures()}
    assert len(gaps) == 6
    assert gaps[("2023", "Whole study area")]["gap_diff"] == pytest.approx(5)
    assert gaps[("2024", "Whole study area")]["gap_diff"] == pytest.approx(12 - 47 / 9)
    assert gaps[("2024", "Whole study area")]["gap_diff_change"] == pytest.approx(12 - 47 / 9 - 5)
    # West = zones 0-3 and half of 4 (no population field: weighted by share):
    # 2023 top zone 0 (10) vs (9 + 8 + 7 + 0.5 * 6) / 3.5
    assert gaps[("2023", "West")]["gap_diff"] == pytest.approx(10 - 27 / 3.5)


def test_three_periods_without_baseline_use_ranks(provider):
    feedback = QgsProcessingFeedback()
    logs = []
    feedback.pushInfo = logs.append
    p = [period(S1, B1), period(S1[::-1], [0, 2, 2, 0, 0, 0, 0, 0, 0, 0]),
         period(S2, [2, 3, 2, 0, 0, 0, 0, 0, 0, 0])]
    res = _run({"PERIODS": p, "OUTPUT": "memory:", "GAPS": "memory:"}, feedback)
    out = _by_id(res["OUTPUT"])
    assert out["S1000_r0_c0"]["score_change"] is None or \
        str(out["S1000_r0_c0"]["score_change"]) == "NULL"
    # zone 0 ranks 1, 10, 1 -> series -1, -10, -1: S = -1 + 0 + 1 = 0
    assert out["S1000_r0_c0"]["trend_s"] == 0
    # bins of zone 1: 2, 2, 3 -> hot throughout; zone 2: 0, 2, 2 -> consecutive
    assert out["S1000_r0_c1"]["emerging"] == "persistent hot spot"
    assert out["S1000_r0_c2"]["emerging"] == "consecutive hot spot"
    assert out["S1000_r0_c0"]["emerging"] == "sporadic hot spot"
    assert any("rescaled" in m for m in logs)


def test_different_ids_and_grids_are_refused(provider):
    ids = [f"S1000_r0_c{i}" for i in range(10)]
    other = ids[:9] + ["S1000_r5_c5"]
    with pytest.raises(QgsProcessingException, match="do not have the same zones") as err:
        _run({"PERIODS": [period(S1, B1), period(S2, B2, ids=other)], "LABELS": "a,b",
              "OUTPUT": "memory:", "GAPS": "memory:"})
    assert "S1000_r0_c9" in str(err.value) and "S1000_r5_c5" in str(err.value)
    with pytest.raises(QgsProcessingException, match="different grids"):
        _run({"PERIODS": [period(S1, B1), period(S2, B2, size=500)], "OUTPUT": "memory:",
              "GAPS": "memory:"})
    with pytest.raises(QgsProcessingException, match="at least two"):
        _run({"PERIODS": [period(S1, B1)], "OUTPUT": "memory:", "GAPS": "memory:"})


class _Recorder(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.infos, self.warnings = [], []

    def pushInfo(self, info):
        self.infos.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning):
        self.warnings.append(warning)
        super().pushWarning(warning)


def _rising(t):
    """t periods on a shared baseline: zone 0 rises every period and is hot throughout."""
    out = []
    for k in range(t):
        scores = [10.0 + k] + [5.0 - 0.1 * i for i in range(1, 10)]
        out.append(period(scores, [3] + [0] * 9, baseline="base1"))
    return out


@pytest.mark.parametrize("t", [3, 4])
def test_a_trend_that_cannot_be_significant_is_said(provider, t):
    fb = _Recorder()
    res = _run({"PERIODS": _rising(t), "OUTPUT": "memory:", "GAPS": "memory:"}, fb)
    assert res["TREND_TESTABLE"] == 0
    assert res["TREND_NOTE"].startswith(f"trend not testable with {t} periods: needs at least 5")
    assert any(w.startswith(f"Trend not testable with {t} periods: needs at least 5")
               for w in fb.warnings)
    out = _by_id(res["OUTPUT"])
    # zone 0's score rises strictly: S = t(t-1)/2, still "not testable", not "no trend"
    z0 = out["S1000_r0_c0"]
    assert z0["trend_s"] == t * (t - 1) / 2 and z0["trend"] == "not testable"
    assert z0["trend_p"] == pytest.approx({3: 0.296270, 4: 0.089429}[t], abs=1e-6)
    assert z0["emerging"] == "persistent hot spot"
    assert {f["trend"] for f in res["OUTPUT"].getFeatures()} == {"not testable"}
    assert any("Emerging hot spot categories" in i and "'intensifying' and 'diminishing' cannot "
               f"occur with {t} periods" in i for i in fb.infos)


def test_five_periods_can_show_a_trend(provider):
    fb = _Recorder()
    res = _run({"PERIODS": _rising(5), "OUTPUT": "memory:", "GAPS": "memory:"}, fb)
    assert res["TREND_TESTABLE"] == 1
    assert res["TREND_NOTE"].startswith("Mann-Kendall trend testable with 5 periods")
    assert not any("not testable" in w for w in fb.warnings)
    z0 = _by_id(res["OUTPUT"])["S1000_r0_c0"]
    assert z0["trend"] == "increasing" and z0["trend_p"] == pytest.approx(0.027486, abs=1e-6)
    # gi_z is absent: the emerging trend is on the bins, constant at 3 -> persistent
    assert z0["emerging"] == "persistent hot spot"


def test_gap_mode_cohort_or_reselected(provider):
    s3 = [1, 12, 2, 3, 4, 5, 6, 7, 10, 9]      # zone 0 falls from the top, zone 1 takes its place
    logs = []
    feedback = QgsProcessingFeedback()
    feedback.pushInfo = logs.append
    base = {"LABELS": "2023,2024", "OUTPUT": "memory:", "GAPS": "memory:"}
    cohort = _run(dict(base, PERIODS=[period(S1, B1, baseline="b"), period(s3, B2, baseline="b")]),
                  feedback)
    gaps = {f["period"]: f for f in cohort["GAPS"].getFeatures()}
    # no population: top 10 % of the zones = zone 0, followed: 2024 1 against 58 / 9
    assert gaps["2024"]["gap_diff"] == pytest.approx(1 - 58 / 9)
    assert gaps["2024"]["top_group_of"] == "2023"
    assert any("fixed" not in m and "the same zones in every period" in m for m in logs)
    again = _run(dict(base, PERIODS=[period(S1, B1, baseline="b"), period(s3, B2, baseline="b")],
                      GAP_MODE=1))
    gaps = {f["period"]: f for f in again["GAPS"].getFeatures()}
    assert gaps["2024"]["gap_diff"] == pytest.approx(12 - 47 / 9)
    assert gaps["2024"]["top_group_of"] == "2024" and gaps["2024"]["gap_mode"] == "reselected"

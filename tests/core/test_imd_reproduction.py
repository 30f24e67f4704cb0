"""The English Indices of Deprivation 2025, rebuilt from the seven published domain ranks with
nothing but the engine's own options (MHCLG, English Indices of Deprivation 2025, technical
report: exponential transform of domain ranks, C = 23, fixed domain weights)."""
import os

import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core.index import build_index, validate_spec

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "england",
                    "imd2025_lsoa21.csv")
WEIGHTS = {"Income": 0.225, "Employment": 0.225, "Education": 0.135, "Health": 0.135,
           "Crime": 0.093, "Housing_and_Services": 0.093, "Environment": 0.093}


def imd_recipe(style):
    """Two equivalent recipes: exponential scaling of each domain rank then weighted sums, or
    rank scaling with the composite combined the IMD way (``imd`` aggregation)."""
    scaling = "exponential" if style == "scaling" else "rank"
    themes = [{"name": domain.lower(), "label": domain.replace("_", " "), "weight": weight,
               "issues": [{"name": f"{domain.lower()}_domain", "indicators": {
                   "rank": {"field": f"{domain}_rank", "measure": "value", "scaling": scaling,
                            "direction": "lower_is_worse"}}}]}
              for domain, weight in WEIGHTS.items()]
    composite = "sum" if style == "scaling" else "imd"
    return {"themes": themes, "aggregation": {"issue": "sum", "theme": "sum", "composite": composite}}


@pytest.fixture(scope="module")
def imd():
    return pd.read_csv(DATA)


@pytest.mark.parametrize("style", ["scaling", "aggregation"])
def test_imd_2025_score_rank_and_decile_reproduced_for_every_lsoa(imd, style):
    assert len(imd) == 33755
    spec = imd_recipe(style)
    assert validate_spec(spec, list(imd.columns)) == []
    table = build_index(imd, spec).table
    assert np.abs(table.ci_score - imd.IMD_score).max() < 0.001
    assert np.abs(table.ci_rank - imd.IMD_rank).max() <= 1
    # Decile 1 = most deprived, ceil(rank * 10 / N): matches the published deciles exactly.
    assert (table.ci_decile == imd.IMD_decile).all()
    # Each transformed domain score runs 0-100 with 100 for the most deprived LSOA.
    income = table.income_domain_rank_s if style == "scaling" else None
    if income is not None:
        assert income[imd.Income_rank.idxmin()] == pytest.approx(100.0)

"""Every area reads its parameters one way (`analysis.context.area_params`): its dataclass of
defaults, overridden by name from `ctx.params[area]`; a misspelt name is an error naming it,
never silently the default."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from experience_synthetic import catalog
from perfops.analysis.capacity.model import CapacityParams
from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.data_quality import DataQualityParams
from perfops.analysis.experience import ExperienceParams
from perfops.analysis.feedback.compare import Thresholds
from perfops.analysis.trends import TrendParams

AREAS = {"trends": TrendParams, "capacity": CapacityParams, "experience": ExperienceParams,
         "data_quality": DataQualityParams, "feedback": Thresholds}


def _ctx(params: dict) -> AnalysisContext:
    return AnalysisContext(catalog=catalog(), now=datetime(2026, 1, 5), period=timedelta(days=7),
                           history=timedelta(days=21), load_telemetry=lambda *_: pd.DataFrame(), params=params)


@pytest.mark.parametrize("area", sorted(AREAS))
def test_defaults_without_overrides(area):
    assert area_params(_ctx({}), area, AREAS[area]) == AREAS[area]()


def test_an_override_replaces_only_its_default():
    params = area_params(_ctx({"capacity": {"horizon_days": 30}}), "capacity", CapacityParams)
    assert params.horizon_days == 30 and params.chunk_size == CapacityParams().chunk_size


def test_an_unknown_name_is_an_error_that_names_it():
    with pytest.raises(ValueError, match="unknown experience parameter.*min_request\\b"):
        area_params(_ctx({"experience": {"min_request": 5}}), "experience", ExperienceParams)

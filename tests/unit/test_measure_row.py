"""A dashboard row as /api/measures answers it: every field in order, as
``dataclasses.asdict`` gives it, with ISO dates and the light's value."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from duban.domain.status import Light
from duban.services.reports.overview import MeasureRow


def test_a_rows_dict_is_asdict_with_iso_dates_and_the_lights_value() -> None:
    row = MeasureRow(
        id=7, number=3, title="措施", section="一、总体要求", section_number=1,
        lead=["甲局"], departments=["甲局", "乙区"],
        deadlines=[date(2015, 9, 30), date(2015, 12, 31)], light=Light.YELLOW,
        light_label="黄灯", task_count=4, approved=1, submitted=1, overdue=0,
        reasons=["黄灯 1 个单位:未按期报送进展"], source="市委督办",
    )
    expected = asdict(row) | {"deadlines": ["2015-09-30", "2015-12-31"], "light": "yellow"}
    got = row.to_dict()
    assert list(got.items()) == list(expected.items())
    # Its lists are its own: changing them changes no row.
    got["lead"].append("丙局")
    got["reasons"].clear()
    assert row.lead == ["甲局"] and row.reasons == ["黄灯 1 个单位:未按期报送进展"]

"""``duban item add`` records a 督办件 and assigns it through the measure flow
(a Prefect flow run named after it); bad input exits 1 in Chinese, writing
nothing; ``duban item list`` shows source and 文号. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Measure, Plan, Task
from tests.conftest import CliRunner

pytestmark = pytest.mark.prefect

ITEM = ["item", "add", "--source", "会议纪要", "--doc-number", "市政府常务会议纪要〔2025〕3号",
        "--text", "会议议定:由市教育局牵头,9月开学前完成中小学课后服务全覆盖。",
        "--lead", "市教育局", "--supporting", "市财政局", "--supporting", "市人社局",
        "--due", "2025-08-29", "--as-of", "2025-03-03"]


def test_an_item_is_added_and_assigned_through_the_measure_flow(
    prefect_api: str, migrated_url: str, cli_env: Callable[[str], None], run_cli: CliRunner,
    session_factory: sessionmaker[Session], synced_directory: None,
) -> None:
    cli_env(migrated_url)
    bad = run_cli("item", "add", "--source", "批示", "--text", "x", "--lead", "市不存在局",
                  "--due", "2025-02-30", "--as-of", "2025-03-03")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("错误:督办件未登记:")
    assert "来源:“批示”不是可选的来源" in bad.stderr
    assert "牵头单位:“市不存在局”不在机构目录中" in bad.stderr
    assert "办理期限:“2025-02-30”不是有效日期" in bad.stderr
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Plan)) == 0

    added = run_cli(*ITEM)
    assert added.exit_code == 0, added.stderr
    assert ("已登记督办件:2025年督办件 措施1 会议议定:由市教育局牵头,"
            "9月开学前完成中小学课后服务全覆盖(会议纪要 · 市政府常务会议纪要〔2025〕3号)"
            ) in added.stdout
    assert "(首次登记,已建立“2025年督办件”)" in added.stdout
    assert "措施1:新交办 3 项,已存在 0 项" in added.stdout
    with session_factory() as session:
        roles = sorted(session.execute(
            select(Task.named_as, Task.role).join(Measure, Measure.id == Task.measure_id)
        ).all())
    assert roles == [("市人社局", "supporting"), ("市教育局", "lead"), ("市财政局", "supporting")]

    second = run_cli(*ITEM, "--no-assign", "--json")
    data = json.loads(second.stdout)
    assert (data["item"]["number"], data["assigned"]) == (2, None)
    listed = run_cli("item", "list", "--year", "2025")
    assert "市政府常务会议纪要〔2025〕3号" in listed.stdout and "会议纪要" in listed.stdout
    shown = run_cli("plan", "show", "1", "--plan", "2025年督办件")
    assert "来源:会议纪要 · 市政府常务会议纪要〔2025〕3号" in shown.stdout

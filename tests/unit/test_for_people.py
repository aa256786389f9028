"""Messages as pages show them: no command names, no internal numbers."""

from __future__ import annotations

import pytest

from duban.web.state import for_people


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("找不到任务 #203(可用 duban tasks 查看任务列表)", "找不到该任务"),
        ("市民政局无权办理市卫计局的任务 #203", "市民政局无权办理市卫计局的任务"),
        ("延期申请 #4(任务 #203)已审批,不能再次审批", "该延期申请已审批,不能再次审批"),
        ("还没有导入任何工作方案,请先运行 duban plan import", "还没有导入任何工作方案"),
        ("已办结:措施8 珠海市民政局", "已办结:措施8 珠海市民政局"),
        ("珠督〔2016〕12号 已签发", "珠督〔2016〕12号 已签发"),
    ],
    ids=["not-found", "after-de", "extension", "command", "unchanged", "doc-number"],
)
def test_for_people(message: str, shown: str) -> None:
    assert for_people(message) == shown

"""The escalation ladder as data: steps, policies and step keys.

An :class:`EscalationPolicy` is a list of :class:`LadderStep` (提醒 → 催办 → 督办),
each triggered a number of working days from an :class:`Anchor` and sent to an
:class:`Audience`. Besides the ladder: the manual rung :data:`MANUAL_URGE` and the
announcements (撤销, 期限调整). :class:`StepKey` reads and writes a notice's key,
``name@anchor``. Which steps are due is :mod:`duban.domain.escalation`'s work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from duban.domain.errors import DubanError
from duban.domain.status import Cadence, StatusPolicy


class Anchor(StrEnum):
    ASSIGNED = "assigned"  # n working days after assignment (0: at once)
    UNACKNOWLEDGED = "unacknowledged"  # n working days after assignment, if not acknowledged
    BEFORE_DUE = "before_due"  # n working days before the due date
    AFTER_DUE = "after_due"  # n working days after the due date (overdue ladder)
    REPORT_DUE = "report_due"  # n working days before a periodic report deadline
    REPORT_MISSING = "report_missing"  # n working days after a report deadline, if missing
    MANUAL = "manual"  # taken by hand (MANUAL_URGE); never in a policy, never swept
    # A one-off message about the task (TASK_CANCELLED, DUE_MOVED), not a rung;
    # never in a policy, never swept, nothing follows it.
    ANNOUNCE = "announce"


class Audience(StrEnum):
    LIAISON = "liaison"  # the department's 联络员
    HEAD = "head"  # the department's 负责人
    COORDINATORS = "coordinators"  # 督办科
    SUPERVISORS = "supervisors"  # 督查室
    LEAD_DEPARTMENT = "lead_department"  # a supporting task's measure lead (its liaison)


@dataclass(frozen=True, kw_only=True)
class LadderStep:
    name: str  # stable id, also the template name unless ``template`` is set
    anchor: Anchor
    workdays: int
    level: int  # 0 reminder, 1 催办, 2 督办 (yellow), 3 督办 (red, 约谈)
    audience: tuple[Audience, ...]
    label: str
    template: str = ""

    @property
    def template_name(self) -> str:
        return self.template or self.name


@dataclass(frozen=True)
class EscalationPolicy:
    steps: tuple[LadderStep, ...]
    report: StatusPolicy = field(default_factory=StatusPolicy)
    name: str = "默认督办规则"

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["report"]["report_cadence"] = self.report.report_cadence.value
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, source: str = "督办规则") -> EscalationPolicy:
        """Build from plain data (YAML/JSON); raises DubanError naming the step at fault."""
        steps: list[LadderStep] = []
        for index, raw in enumerate(data.get("steps") or [], start=1):
            where = f"{source} 第{index}步"
            if not isinstance(raw, Mapping):
                raise DubanError("应为映射", where=where)
            try:
                audience = tuple(Audience(a) for a in raw.get("audience") or ())
                step = LadderStep(
                    name=str(raw["name"]),
                    anchor=Anchor(raw["anchor"]),
                    workdays=int(raw.get("workdays", 0)),
                    level=int(raw.get("level", 0)),
                    audience=audience,
                    label=str(raw.get("label") or raw["name"]),
                    template=str(raw.get("template") or ""),
                )
            except KeyError as err:
                raise DubanError(f"缺少字段 {err.args[0]}", where=where) from None
            except ValueError as err:
                raise DubanError(f"取值无效:{err}", where=where) from None
            if step.anchor is Anchor.MANUAL or step.name == MANUAL_URGE.name:
                raise DubanError(
                    f"anchor manual 与步骤名 {MANUAL_URGE.name} 保留给督办科手动催办,"
                    "不能用于督办规则",
                    where=where,
                )
            if step.anchor is Anchor.ANNOUNCE or step.name in ANNOUNCEMENTS:
                raise DubanError(
                    f"anchor announce 与步骤名 {'、'.join(ANNOUNCEMENTS)} 保留给系统通知"
                    "(任务撤销、期限调整),不能用于督办规则",
                    where=where,
                )
            if step.workdays < 0 or not 0 <= step.level <= 3 or not step.audience:
                raise DubanError("workdays 不能为负,level 应为 0–3,audience 不能为空", where=where)
            steps.append(step)
        if not steps:
            raise DubanError("督办规则至少要有一步", where=source)
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise DubanError("步骤名称 name 重复", where=source)
        report_raw = data.get("report") or {}
        try:
            report = StatusPolicy(
                due_soon_workdays=int(report_raw.get("due_soon_workdays", 10)),
                report_cadence=Cadence(report_raw.get("report_cadence", "quarterly")),
                report_workdays_after_period=int(report_raw.get("report_workdays_after_period", 5)),
            )
        except ValueError as err:
            raise DubanError(f"报送周期设置无效:{err}", where=source) from None
        return cls(tuple(steps), report, str(data.get("name") or "督办规则"))


L, H, C, S, LD = (
    Audience.LIAISON,
    Audience.HEAD,
    Audience.COORDINATORS,
    Audience.SUPERVISORS,
    Audience.LEAD_DEPARTMENT,
)

DEFAULT_POLICY = EscalationPolicy(
    steps=(
        LadderStep(
            name="assigned", anchor=Anchor.ASSIGNED, workdays=0, level=0, audience=(L,),
            label="交办通知",
        ),
        LadderStep(
            name="ack_reminder", anchor=Anchor.UNACKNOWLEDGED, workdays=2, level=0,
            audience=(L,), label="签收提醒",
        ),
        LadderStep(
            name="due_reminder_10", anchor=Anchor.BEFORE_DUE, workdays=10, level=0,
            audience=(L,), label="到期提醒", template="due_reminder",
        ),
        LadderStep(
            name="due_reminder_3", anchor=Anchor.BEFORE_DUE, workdays=3, level=0,
            audience=(L,), label="到期提醒", template="due_reminder",
        ),
        LadderStep(
            name="report_due", anchor=Anchor.REPORT_DUE, workdays=3, level=0, audience=(L,),
            label="报送提醒", template="report_reminder",
        ),
        LadderStep(
            name="report_missing", anchor=Anchor.REPORT_MISSING, workdays=1, level=0,
            audience=(L,), label="报送提醒(逾期未报)", template="report_reminder",
        ),
        LadderStep(
            name="urge", anchor=Anchor.AFTER_DUE, workdays=1, level=1, audience=(L, H),
            label="催办",
        ),
        LadderStep(
            name="escalate_yellow", anchor=Anchor.AFTER_DUE, workdays=5, level=2,
            audience=(H, C, LD), label="督办(黄色督办单)",
        ),
        LadderStep(
            name="escalate_red", anchor=Anchor.AFTER_DUE, workdays=10, level=3, audience=(S,),
            label="督办(红色督办单,约谈)",
        ),
    )
)

# The rung a coordinator takes by hand ("催办 now"): level 1 like the ladder's
# 催办, to the department's liaison, with the coordinator's note.
MANUAL_URGE = LadderStep(
    name="manual_urge", anchor=Anchor.MANUAL, workdays=0, level=1,
    audience=(Audience.LIAISON,), label="督办科催办",
)


# The one message a task gets when a changed plan withdraws it (任务撤销通知):
# to the department's liaison, once (its key has no anchor), and the last.
TASK_CANCELLED = LadderStep(
    name="task_cancelled", anchor=Anchor.ANNOUNCE, workdays=0, level=0,
    audience=(Audience.LIAISON,), label="任务撤销通知",
)
# The message a task gets when a new holiday arrangement moves its due date
# (期限调整通知), keyed by the new date.
DUE_MOVED = LadderStep(
    name="due_moved", anchor=Anchor.ANNOUNCE, workdays=0, level=0,
    audience=(Audience.LIAISON,), label="期限调整通知",
)
ANNOUNCEMENTS = {step.name: step for step in (TASK_CANCELLED, DUE_MOVED)}


# The step name of a notice reporting a failed delivery to the coordinators
# (送达失败): its key's anchor is the delivery's id, not a date.
DELIVERY_FAILED = "delivery_failed"


@dataclass(frozen=True)
class StepKey:
    """A notice's step key, ``name@anchor``: unique per task.

    ``anchor`` is an ISO date for ladder steps and manual rungs (the date the
    step is counted from, or the day a manual rung was taken), a delivery id
    for a delivery-failure report, and empty for a once-only announcement
    (``task_cancelled``). :meth:`parse` and :meth:`format` are inverse:
    ``StepKey.parse(k).format() == k`` for every key."""

    name: str
    anchor: str = ""

    @classmethod
    def parse(cls, key: str) -> StepKey:
        """Split ``name@anchor`` at the first ``@``; a key without one has no anchor."""
        name, _, anchor = key.partition("@")
        return cls(name, anchor)

    @classmethod
    def on(cls, name: str, day: date) -> StepKey:
        """The key of step ``name`` anchored on ``day``."""
        return cls(name, day.isoformat())

    @classmethod
    def manual(cls, day: date) -> StepKey:
        """The key of a manual 催办 taken on ``day`` (one per task and day)."""
        return cls.on(MANUAL_URGE.name, day)

    @classmethod
    def delivery_failure(cls, delivery_id: int) -> StepKey:
        """The key of the report that delivery ``delivery_id`` failed (one per delivery)."""
        return cls(DELIVERY_FAILED, str(delivery_id))

    @property
    def anchor_date(self) -> date | None:
        try:
            return date.fromisoformat(self.anchor)
        except ValueError:
            return None

    @property
    def is_manual(self) -> bool:
        return self.name == MANUAL_URGE.name

    @property
    def is_delivery_failure(self) -> bool:
        return self.name == DELIVERY_FAILED

    @property
    def delivery_id(self) -> int:
        """The failed delivery a delivery-failure key names; ValueError for other keys."""
        if not self.is_delivery_failure:
            raise ValueError(f"not a delivery-failure key: {self.format()}")
        return int(self.anchor)

    def format(self) -> str:
        """The key as stored in ``notices.step``."""
        return f"{self.name}@{self.anchor}" if self.anchor else self.name

    def __str__(self) -> str:
        return self.format()

"""Issuing printable documents under a 文号: 督办通知单 / 黄色督办单 / 红色督办单
about one task or one department's tasks, and the periodic 督查通报.

Issuing reads the tasks as of the day (the ledger's rows: status, light,
escalations), fills a :class:`~duban.domain.documents.NoticeContent` or
:class:`~duban.domain.documents.BulletinContent`, takes the next number of
the document's series and year, and stores both in one transaction
(:class:`models.IssuedDocument`; unique per series, year and number, so two
people issuing at once never share one — the loser takes the next). The
stored content is what is printed, as .docx or PDF
(:mod:`duban.services.document_files`), as often as asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.issued_documents import (
    NOTICE_KINDS,
    BulletinContent,
    DocumentKind,
    NoticeContent,
    NoticeItem,
    default_opinion,
    kind_for_level,
)
from duban.domain.scorecard import Period
from duban.domain.status import Light, TaskStatus
from duban.domain.workdays import WorkCalendar
from duban.services.accounts.org import org_settings
from duban.services.reports.bulletin import (
    BULLETIN_REQUIREMENTS,
    bulletin_counts,
    done_units,
    interviews,
    late_units,
)
from duban.services.reports.ledger import build_ledger
from duban.services.reports.ledger_model import LedgerRow
from duban.services.tasks.facts import LOCAL_ZONE, local_date
from duban.services.tasks.queries import find_department
from models import AuditEntry, Department, IssuedDocument, Task

# Working days a department has to answer: a red 督办单 asks sooner.
REPLY_WORKDAYS = {DocumentKind.NOTICE: 5, DocumentKind.YELLOW: 5, DocumentKind.RED: 3}
SUPERVISOR_OFFICE = "督查室"
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class IssuedView:
    """An issued document: its number, what it is about and its content."""

    id: int
    kind: DocumentKind
    number: str
    issued_at: datetime
    issued_by: str
    task_id: int | None
    department_id: int | None
    content: NoticeContent | BulletinContent

    @property
    def subject(self) -> str:
        """What the document is about, in a few words (lists and file names)."""
        content = self.content
        if isinstance(content, BulletinContent):
            return content.period_label
        measures = "、".join(f"措施{i.measure}" for i in content.items[:3])
        more = f"等{len(content.items)}项" if len(content.items) > 3 else ""
        return f"{content.department} {measures}{more}"

    @property
    def filename_stem(self) -> str:
        """``黄色督办单-珠督〔2016〕3号-珠海市民政局``: Chinese, without path characters."""
        content = self.content
        about = content.department if isinstance(content, NoticeContent) else ""
        parts = [self.kind.label, self.number, about]
        return "-".join(p for p in parts if p).replace("/", "_").replace("\\", "_")


def _view(row: IssuedDocument) -> IssuedView:
    kind = DocumentKind(row.kind)
    content: NoticeContent | BulletinContent
    if kind is DocumentKind.BULLETIN:
        content = BulletinContent.from_data(row.content)
    else:
        content = NoticeContent.from_data(row.content)
    return IssuedView(row.id, kind, row.number, row.issued_at, row.issued_by, row.task_id,
                      row.department_id, content)


def get_document(session_factory: sessionmaker[Session], document_id: int) -> IssuedView:
    """One issued document; NotFoundError when there is none."""
    with session_factory() as session:
        row = session.get(IssuedDocument, document_id)
        if row is None:
            raise NotFoundError("找不到该文书")
        return _view(row)


def find_document(session_factory: sessionmaker[Session], number: str) -> IssuedView:
    """The issued document numbered ``number`` (as printed); NotFoundError otherwise."""
    with session_factory() as session:
        row = session.scalars(
            select(IssuedDocument).where(IssuedDocument.number == number.strip())
            .order_by(IssuedDocument.id.desc())
        ).first()
        if row is None:
            raise NotFoundError(f"没有文号为“{number}”的文书")
        return _view(row)


def list_documents(
    session_factory: sessionmaker[Session], *, task_id: int | None = None, limit: int = 100
) -> list[IssuedView]:
    """Issued documents, newest first; with ``task_id``, the 督办单 about that
    task (alone or among its department's tasks)."""
    with session_factory() as session:
        query = select(IssuedDocument).order_by(IssuedDocument.id.desc())
        if task_id is None:
            return [_view(row) for row in session.scalars(query.limit(limit))]
        department_id = session.scalar(select(Task.department_id).where(Task.id == task_id))
        rows = session.scalars(query.where(IssuedDocument.department_id == department_id))
        views = [_view(row) for row in rows]
    return [
        v for v in views
        if isinstance(v.content, NoticeContent)
        and any(item.task_id == task_id for item in v.content.items)
    ][:limit]


# --- 督办单 ----------------------------------------------------------------------


def issue_notice(
    session_factory: sessionmaker[Session],
    *,
    actor: str,
    now: datetime,
    calendar: WorkCalendar,
    task_ids: list[int] | None = None,
    department: str | None = None,
    kind: DocumentKind | None = None,
    opinion: str | None = None,
    signer: str | None = None,
    default_issuer: str = "督办科",
    zone: tzinfo = LOCAL_ZONE,
) -> IssuedView:
    """Issue a 督办单 about ``task_ids`` (one department's) or, with
    ``department``, about that department's overdue open tasks (else its
    open tasks with a yellow light).

    ``kind`` defaults to the highest escalation reached (红色 after a red
    督办, 黄色 after a yellow one, else 督办通知单); ``opinion`` to the kind's
    standard 督办意见 with a reply date 5 working days ahead (3 for red);
    ``signer`` to the organisation file's ``documents.signer``, else the
    issuer. Raises DubanError when there is nothing to supervise, the tasks
    are closed or belong to several departments, NotFoundError for unknown
    tasks or department; nothing is written then.
    """
    today = local_date(now, zone)
    with session_factory() as session:
        settings = org_settings(session).documents
        department_id, wanted = _notice_tasks(session, task_ids=task_ids, department=department)
    rows = _notice_rows(session_factory, department_id, wanted, today=today, calendar=calendar,
                        zone=zone)
    kind = kind or kind_for_level(max(r.max_level for r in rows))
    if kind not in NOTICE_KINDS:
        raise DubanError("督办单的种类应为 督办通知单、黄色督办单 或 红色督办单")
    items = [_item(r, today, calendar) for r in rows]
    late = max((i.overdue_days or 0 for i in items), default=0) or None
    reply_by = calendar.add_workdays(today, REPLY_WORKDAYS[kind])
    issuer = settings.issuer or default_issuer
    text = (opinion or "").strip() or default_opinion(
        kind, overdue_days=late, reply_by=reply_by, supervisor=SUPERVISOR_OFFICE)
    if len(text) > 2000:
        raise DubanError(f"督办意见不能超过 2000 字(现 {len(text)} 字)")
    content = NoticeContent(
        kind=kind,
        number="",
        issuer=issuer,
        issued_on=today,
        plan_title="、".join(dict.fromkeys(r.plan_title for r in rows)),
        department=rows[0].department,
        items=items,
        opinion=text,
        reply_by=reply_by,
        signer=(signer or "").strip() or settings.signer or issuer,
        copy_to=[SUPERVISOR_OFFICE] if kind is not DocumentKind.NOTICE else [],
    )
    return _store(
        session_factory, kind, content, now=now, zone=zone, actor=actor,
        task_id=rows[0].task_id if len(rows) == 1 else None, department_id=department_id,
        number_for=lambda number: NoticeContent(**{**vars(content), "number": number}),
        settings_number=lambda year, seq: settings.number(kind, year=year, seq=seq),
    )


def _notice_tasks(
    session: Session, *, task_ids: list[int] | None, department: str | None
) -> tuple[int, set[int]]:
    """The department and the chosen task ids (empty: pick from the department)."""
    if task_ids:
        rows = session.execute(
            select(Task.id, Task.department_id).where(Task.id.in_(task_ids))
        ).all()
        missing = set(task_ids) - {r.id for r in rows}
        if missing:
            raise NotFoundError(f"找不到任务 {'、'.join(str(i) for i in sorted(missing))}")
        departments = {r.department_id for r in rows}
        if len(departments) > 1:
            raise DubanError("一份督办单只发给一个责任单位,请按单位分别印发")
        return departments.pop(), set(task_ids)
    if not department:
        raise DubanError("请指定任务或责任单位")
    return find_department(department, session=session).id, set()


def _notice_rows(
    session_factory: sessionmaker[Session],
    department_id: int,
    wanted: set[int],
    *,
    today: date,
    calendar: WorkCalendar,
    zone: tzinfo,
) -> list[LedgerRow]:
    """The ledger rows of the ``wanted`` tasks (none: what the department has
    to be supervised on); DubanError when there are none or one is closed."""
    ledger = build_ledger(session_factory, as_of=today, calendar=calendar, all_plans=True,
                          department_ids=[department_id], zone=zone)
    rows = [r for r in ledger.rows if r.task_id in wanted] if wanted else _to_supervise(
        ledger.rows)
    if not rows:
        raise DubanError("该单位没有逾期或亮黄灯的未办结任务,无需印发督办单")
    closed = [r for r in rows if not r.is_open]
    if closed:
        raise DubanError(
            f"措施{closed[0].measure}的任务{closed[0].state_label},不能再印发督办单"
        )
    return rows


def _to_supervise(rows: list[LedgerRow]) -> list[LedgerRow]:
    """A department's overdue open tasks, else its open tasks with a yellow light."""
    overdue = [r for r in rows if r.is_open and r.status is TaskStatus.OVERDUE]
    return overdue or [r for r in rows if r.is_open and r.light is Light.YELLOW]


def _item(row: LedgerRow, today: date, calendar: WorkCalendar) -> NoticeItem:
    overdue = calendar.count_workdays(row.due, today) if row.status is TaskStatus.OVERDUE else None
    return NoticeItem(
        task_id=row.task_id,
        measure=row.measure,
        measure_title=row.measure_title,
        targets=[t.text for t in row.targets],
        role_label=row.role_label,
        due=row.due,
        original_due=row.original_due,
        state_label=row.state_label,
        overdue_days=overdue,
        escalations=[str(e) for e in row.escalations],
    )


# --- 督查通报 --------------------------------------------------------------------


def issue_bulletin(
    session_factory: sessionmaker[Session],
    *,
    actor: str,
    now: datetime,
    calendar: WorkCalendar,
    period: Period | None = None,
    plan: str | int | None = None,
    signer: str | None = None,
    default_issuer: str = "督办科",
    zone: tzinfo = LOCAL_ZONE,
) -> IssuedView:
    """Issue a 督查通报 for ``period`` (default: from the start up to today;
    a period ending later is cut at today).

    The tasks are counted as they stand on the day of issue (截至, as the
    ledger: by state and light, the departments with overdue open tasks, most
    first, and those with all their due work done on time); the period
    selects the escalations counted (催办, 黄色, 红色督办) and the 约谈 list (the
    departments a red 督办单 went to in it). ``plan``: one plan's tasks
    (default: every plan). Raises NotFoundError for an unknown plan,
    DubanError for a period that begins after today."""
    today = local_date(now, zone)
    period = (period or Period()).clipped(today)
    assert period.end is not None  # clipped to today
    if period.start is not None and period.start > period.end:
        raise DubanError(f"通报期间从 {period.start.isoformat()} 开始,还没有到")
    ledger = build_ledger(session_factory, as_of=today, calendar=calendar, plan=plan,
                          all_plans=plan is None, zone=zone)
    with session_factory() as session:
        settings = org_settings(session).documents
        order = {name: index for index, name in
                 enumerate(session.scalars(select(Department.name).order_by(Department.id)))}
    issuer = settings.issuer or default_issuer
    content = BulletinContent(
        number="",
        issuer=issuer,
        issued_on=today,
        plan_title="、".join(title for _key, title in ledger.plans),
        period_start=period.start,
        period_end=period.end,
        counts=bulletin_counts(ledger.rows, period, as_of=today),
        late_units=late_units(ledger.rows, today, calendar, order),
        interviews=interviews(ledger.rows, period, order),
        done_units=done_units(ledger.rows, today, order),
        requirements=list(BULLETIN_REQUIREMENTS),
        signer=(signer or "").strip() or settings.signer or issuer,
    )
    kind = DocumentKind.BULLETIN
    return _store(
        session_factory, kind, content, now=now, zone=zone, actor=actor,
        task_id=None, department_id=None,
        number_for=lambda number: BulletinContent(**{**vars(content), "number": number}),
        settings_number=lambda year, seq: settings.number(kind, year=year, seq=seq),
    )


# --- numbering ---------------------------------------------------------------------


def _store(
    session_factory: sessionmaker[Session],
    kind: DocumentKind,
    content: NoticeContent | BulletinContent,
    *,
    now: datetime,
    zone: tzinfo,
    actor: str,
    task_id: int | None,
    department_id: int | None,
    number_for: Any,
    settings_number: Any,
) -> IssuedView:
    """Take the next number of the kind's series this year and store the
    document; a number taken meanwhile by someone else is skipped."""
    year = local_date(now, zone).year
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with session_factory.begin() as session:
                last = session.scalar(
                    select(func.max(IssuedDocument.seq)).where(
                        IssuedDocument.series == kind.series, IssuedDocument.year == year)
                )
                seq = (last or 0) + 1
                number = settings_number(year, seq)
                numbered = number_for(number)
                row = IssuedDocument(
                    kind=kind.value, series=kind.series, year=year, seq=seq, number=number,
                    task_id=task_id, department_id=department_id, content=numbered.to_data(),
                    issued_at=now, issued_by=actor,
                )
                session.add(row)
                session.flush()
                session.add(AuditEntry(at=now, actor=actor, action="issue_document",
                                       subject=f"{kind.label} {number}",
                                       data={"document": row.id}))
                session.flush()
                return _view(row)
        except IntegrityError:
            continue  # the number went to another issuer at the same moment
    raise DubanError("文号分配冲突,请稍后重试")

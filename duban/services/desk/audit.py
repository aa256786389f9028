"""The desk's audit trail: every fix a coordinator makes is an
:class:`~models.AuditEntry` naming the actor, written in the fix's own
transaction; :func:`audit_entries` reads the newest back for the desk's page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry


def record_audit(
    session: Session, *, now: datetime, actor: str, action: str, subject: str,
    data: dict[str, object] | None = None
) -> None:
    """Add an :class:`~models.AuditEntry` to ``session`` (its caller's transaction)."""
    session.add(AuditEntry(at=now, actor=actor, action=action, subject=subject, data=data))


AUDIT_ACTION_LABELS = {
    "retry_delivery": "重试发送",
    "redirect_delivery": "改发其他联系人",
    "replace_channel": "更换联系方式",
    "resend_notice": "重新发送交办通知",
    "urge": "督办科催办",
    "revoke_links": "停用单位链接",
    "import_plan": "导入工作方案",
    "add_item": "登记督办件",
    "issue_document": "印发督办文书",
    "user_add": "新增账号",
    "user_update": "修改账号",
    "user_disable": "停用账号",
}


def audit_entries(
    session_factory: sessionmaker[Session], *, limit: int = 50
) -> list[AuditEntry]:
    """The newest audit entries (detached rows)."""
    with session_factory() as session:
        return list(
            session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        )

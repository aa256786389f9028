"""The organisation as stored: its settings (time zone, office hours, base URL,
documents) and who gets messages (contacts and their channels by department and
role), for the outbox, the pages and ``duban org show``.

Channel URLs are secrets. Everything here that is meant for display carries
``url_privacy`` only; ``url`` is for the sender. The organisation file is read
and written into the database by :mod:`duban.services.accounts.org_file`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from duban.domain.errors import DubanError
from duban.domain.escalation import EscalationPolicy
from duban.domain.issued_documents import DocumentSettings
from duban.domain.org import (
    DEFAULT_OFFICE_HOURS,
    DEFAULT_TIMEZONE,
    ContactRole,
    OfficeHours,
)
from duban.services.ladder.policy import (
    current_policy,
)
from models import Contact, OrgSetting
from models import Department as DepartmentRow


@dataclass(frozen=True)
class OrgSettingsView:
    timezone: str = DEFAULT_TIMEZONE
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS
    base_url: str | None = None
    documents: DocumentSettings = field(default_factory=DocumentSettings)


@dataclass(frozen=True)
class ChannelView:
    """An active channel. ``url`` is the secret for sending; show ``url_privacy``."""

    id: int
    url: str
    url_privacy: str
    scheme: str


@dataclass(frozen=True)
class ContactWithChannels:
    contact_id: int
    name: str
    role: str
    department_id: int | None
    channels: tuple[ChannelView, ...]

    def public(self) -> dict[str, Any]:
        """For display and JSON: the privacy form of each address, never the URL."""
        return {
            "name": self.name,
            "role": self.role,
            "notify": [c.url_privacy for c in self.channels],
        }


@dataclass(frozen=True)
class DepartmentContacts:
    name: str
    kind: str
    aliases: tuple[str, ...]
    liaison: tuple[ContactWithChannels, ...]
    head: tuple[ContactWithChannels, ...]


@dataclass(frozen=True)
class OrgOverview:
    """What ``duban org show`` prints: no secret anywhere in :meth:`to_dict`."""

    settings: OrgSettingsView
    departments: list[DepartmentContacts]
    coordinators: list[ContactWithChannels]
    supervisors: list[ContactWithChannels]
    policy_id: int | None
    policy: EscalationPolicy

    def to_dict(self) -> dict[str, Any]:
        return {
            "timezone": self.settings.timezone,
            "office_hours": str(self.settings.office_hours),
            "base_url": self.settings.base_url,
            "coordinators": [c.public() for c in self.coordinators],
            "supervisors": [c.public() for c in self.supervisors],
            "departments": [
                {
                    "name": d.name,
                    "kind": d.kind,
                    "aliases": list(d.aliases),
                    "liaison": [c.public() for c in d.liaison],
                    "head": [c.public() for c in d.head],
                }
                for d in self.departments
            ],
            "policy": {
                "id": self.policy_id,
                "name": self.policy.name,
                "steps": [
                    {
                        "name": s.name,
                        "label": s.label,
                        "anchor": s.anchor.value,
                        "workdays": s.workdays,
                        "level": s.level,
                        "audience": [a.value for a in s.audience],
                    }
                    for s in self.policy.steps
                ],
            },
        }


def org_settings(session: Session) -> OrgSettingsView:
    """The stored settings; defaults (Asia/Shanghai, 09:00-18:00, no base URL)
    for what was never loaded. Raises DubanError if a stored value is corrupt."""
    values = {row.key: row.value for row in session.scalars(select(OrgSetting))}
    hours = values.get("office_hours")
    try:
        office_hours = OfficeHours.parse(hours) if hours else DEFAULT_OFFICE_HOURS
    except DubanError as err:
        raise DubanError(f"数据库中的办公时间设置无效:{err.message}") from None
    base_url = values.get("base_url")
    try:
        documents = DocumentSettings.from_data(values.get("documents"))
    except DubanError as err:
        raise DubanError(f"数据库中的文书设置无效:{err.message}") from None
    return OrgSettingsView(
        timezone=str(values.get("timezone") or DEFAULT_TIMEZONE),
        office_hours=office_hours,
        base_url=str(base_url) if base_url else None,
        documents=documents,
    )


def contacts_for(
    session: Session, *, department_id: int | None, role: str
) -> list[ContactWithChannels]:
    """Active contacts of ``role`` for a department (None: organisation-wide),
    in file order of first load, each with its active channels in file order."""
    query = (
        select(Contact)
        .where(Contact.active.is_(True), Contact.role == ContactRole(role).value)
        .options(selectinload(Contact.channels))
        .order_by(Contact.id)
    )
    if department_id is None:
        query = query.where(Contact.department_id.is_(None))
    else:
        query = query.where(Contact.department_id == department_id)
    return [contact_view(row) for row in session.scalars(query)]


def contact_view(row: Contact) -> ContactWithChannels:
    """A contact row as read by the outbox and the pages: its active channels only."""
    return ContactWithChannels(
        contact_id=row.id,
        name=row.name,
        role=row.role,
        department_id=row.department_id,
        channels=tuple(
            ChannelView(id=c.id, url=c.url, url_privacy=c.url_privacy, scheme=c.scheme)
            for c in row.channels
            if c.active
        ),
    )


def org_overview(session: Session) -> OrgOverview:
    """Departments (insertion order) with their active liaison and head
    contacts, coordinators, supervisors, settings and the current policy."""
    contacts = [
        contact_view(row)
        for row in session.scalars(
            select(Contact)
            .where(Contact.active.is_(True))
            .options(selectinload(Contact.channels))
            .order_by(Contact.id)
        )
    ]
    by_department: dict[int | None, list[ContactWithChannels]] = {}
    for contact in contacts:
        by_department.setdefault(contact.department_id, []).append(contact)
    departments = [
        DepartmentContacts(
            name=row.name,
            kind=row.kind,
            aliases=tuple(a.alias for a in row.aliases),
            liaison=tuple(c for c in by_department.get(row.id, []) if c.role == "liaison"),
            head=tuple(c for c in by_department.get(row.id, []) if c.role == "head"),
        )
        for row in session.scalars(
            select(DepartmentRow)
            .options(selectinload(DepartmentRow.aliases))
            .order_by(DepartmentRow.id)
        )
    ]
    wide = by_department.get(None, [])
    policy_id, policy = current_policy(session)
    return OrgOverview(
        settings=org_settings(session),
        departments=departments,
        coordinators=[c for c in wide if c.role == "coordinator"],
        supervisors=[c for c in wide if c.role == "supervisor"],
        policy_id=policy_id,
        policy=policy,
    )

"""The organisation file: read it, keep the database in step, answer who gets messages.

``load_org_file`` reads and validates a whole file first — every notification
address included (``notifications.contacts.validate_url``) — so a bad entry
anywhere stores nothing. ``sync_org`` then writes, in one transaction:

- departments and aliases (:func:`duban.services.accounts.directory.sync_departments`);
- contacts, upserted by :func:`duban.domain.org.contact_key`; a contact no
  longer in the file is deactivated, never deleted (deliveries reference it);
- each contact's channels, matched by URL: new ones added, ones no longer
  listed deactivated (deliveries reference them too), positions in file order;
- org settings (``timezone``, ``office_hours``, ``base_url``);
- the escalation policy, as a new version only when its fingerprint is new.

The file is the truth: a plain directory file (no contacts) deactivates every
contact. Loading the same file again writes nothing.

Channel URLs are secrets. Everything here that is meant for display carries
``url_privacy`` only; ``url`` is for the sender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.domain.errors import DubanError
from duban.domain.escalation import EscalationPolicy
from duban.domain.issued_documents import DocumentSettings
from duban.domain.labels import ORG_ROLE_LABELS
from duban.domain.org import (
    DEFAULT_OFFICE_HOURS,
    DEFAULT_TIMEZONE,
    ContactRole,
    ContactSpec,
    OfficeHours,
    OrgFile,
    contact_key,
    parse_org,
    url_scheme,
)
from duban.services.accounts.directory import SyncReport, read_directory_yaml, sync_departments
from duban.services.ladder.policy import (
    PolicyChange,
    current_policy,
    stale_open_tasks,
    store_policy,
)
from models import Contact, ContactChannel, OrgSetting
from models import Department as DepartmentRow
from notifications.contacts import privacy, validate_url


@dataclass
class OrgSyncReport:
    """What :func:`sync_org` did. Contacts are named ``单位/角色/姓名``."""

    directory: SyncReport
    contacts: int = 0  # active contacts in the file
    channels: int = 0  # active channels in the file
    contacts_added: list[str] = field(default_factory=list)
    contacts_updated: list[str] = field(default_factory=list)  # channels or active flag changed
    contacts_deactivated: list[str] = field(default_factory=list)
    channels_added: int = 0
    channels_deactivated: int = 0
    settings_changed: list[str] = field(default_factory=list)
    policy_id: int = 0
    policy_name: str = ""
    policy_steps: int = 0
    policy_change: PolicyChange = PolicyChange.UNCHANGED
    stale_tasks: int = 0  # open tasks on another policy version (see ``duban policy apply``)

    @property
    def contacts_changed(self) -> bool:
        return bool(self.contacts_added or self.contacts_updated or self.contacts_deactivated)

    @property
    def changed(self) -> bool:
        return (
            self.directory.changed
            or self.contacts_changed
            or bool(self.settings_changed)
            or self.policy_change is not PolicyChange.UNCHANGED
        )


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


# --- reading the file ---------------------------------------------------------


def load_org_file(path: Path) -> OrgFile:
    """Read and validate an organisation (or plain directory) file.

    Every notification address is checked with ``validate_url`` before this
    returns. Raises a DubanError (DirectoryError, OrgFileError, …) naming the
    file and the entry; a bad address is shown only by its scheme.
    """
    data = read_directory_yaml(path)
    return parse_org(data, source=str(path), check_url=validate_url)


# --- writing ------------------------------------------------------------------


def sync_org(
    org: OrgFile, *, session_factory: sessionmaker[Session], now: datetime
) -> OrgSyncReport:
    """Make the database match ``org`` in one transaction (see module doc).

    ``now`` stamps a new policy version. Raises DirectoryError, writing
    nothing, when the departments would become ambiguous.
    """
    with session_factory.begin() as session:
        report = OrgSyncReport(directory=sync_departments(org.directory, session=session))
        _sync_contacts(org, session, report)
        report.settings_changed = _sync_settings(org, session)
        row, change = store_policy(org.policy, session=session, now=now)
        report.policy_id, report.policy_name = row.id, row.name
        report.policy_steps = len(org.policy.steps)
        report.policy_change = change
        report.stale_tasks = stale_open_tasks(session=session)
    return report


def _label(department: str | None, role: ContactRole, name: str) -> str:
    return f"{department or '全市'}/{ORG_ROLE_LABELS[role]}/{name}"


def _sync_contacts(org: OrgFile, session: Session, report: OrgSyncReport) -> None:
    department_ids: dict[str, int] = {
        name: id_ for name, id_ in session.execute(select(DepartmentRow.name, DepartmentRow.id))
    }
    rows = {
        row.key: row
        for row in session.scalars(select(Contact).options(selectinload(Contact.channels)))
    }
    seen: set[str] = set()
    for department, spec in org.contacts():
        key = contact_key(department, spec.role, spec.name)
        seen.add(key)
        label = _label(department, spec.role, spec.name)
        report.contacts += 1
        report.channels += len(spec.urls)
        row = rows.get(key)
        if row is None:
            row = Contact(
                key=key,
                department_id=department_ids[department] if department else None,
                role=spec.role.value,
                name=spec.name,
                active=True,
            )
            row.channels = [
                _new_channel(url, position) for position, url in enumerate(spec.urls, start=1)
            ]
            session.add(row)
            report.contacts_added.append(label)
            report.channels_added += len(spec.urls)
            continue
        changed = not row.active
        row.active = True
        added, deactivated, reordered = _sync_channels(row, spec, session)
        report.channels_added += added
        report.channels_deactivated += deactivated
        if changed or added or deactivated or reordered:
            report.contacts_updated.append(label)
    for key, row in rows.items():
        if key not in seen and row.active:
            row.active = False
            role = ContactRole(row.role)
            department = key.split("/", 1)[0]
            report.contacts_deactivated.append(
                _label(None if department == "*" else department, role, row.name)
            )
    session.flush()


def _new_channel(url: str, position: int) -> ContactChannel:
    return ContactChannel(
        position=position,
        url=url,
        url_privacy=privacy(url),
        scheme=url_scheme(url) or "",
        active=True,
    )


def _sync_channels(row: Contact, spec: ContactSpec, session: Session) -> tuple[int, int, bool]:
    """Channels of ``row`` made to follow ``spec.urls``; (added, deactivated, reordered).

    Channels are matched by URL. The file's come first, in file order, then the
    inactive ones; positions are unique per contact, so moved rows pass through
    negative positions before taking their final ones.
    """
    by_url = {channel.url: channel for channel in row.channels}
    wanted: list[ContactChannel] = []
    new: list[ContactChannel] = []
    reactivated = False
    for url in spec.urls:
        channel = by_url.get(url)
        if channel is None:
            channel = _new_channel(url, 0)
            new.append(channel)
        else:
            reactivated = reactivated or not channel.active
            channel.active = True
            shown = privacy(url)  # may differ after an Apprise upgrade
            if channel.url_privacy != shown:
                channel.url_privacy = shown
        wanted.append(channel)
    rest = sorted((c for c in row.channels if c.url not in spec.urls), key=lambda c: c.position)
    deactivated = sum(1 for c in rest if c.active)
    for channel in rest:
        channel.active = False
    order = wanted + rest
    moved = [
        (channel, position)
        for position, channel in enumerate(order, start=1)
        if channel not in new and channel.position != position
    ]
    if moved:
        for channel, position in moved:
            channel.position = -position
        session.flush()
        for channel, position in moved:
            channel.position = position
        session.flush()
    for channel in new:
        channel.position = order.index(channel) + 1
        row.channels.append(channel)
    return len(new), deactivated, bool(moved) or reactivated


def _sync_settings(org: OrgFile, session: Session) -> list[str]:
    """Store ``org``'s settings; the keys whose value changed (None: row removed)."""
    wanted: dict[str, Any] = {
        "timezone": org.timezone,
        "office_hours": str(org.office_hours),
        "base_url": org.base_url,
        "documents": org.documents.to_data() or None,
    }
    rows = {row.key: row for row in session.scalars(select(OrgSetting))}
    changed: list[str] = []
    for key, value in wanted.items():
        row = rows.get(key)
        if value is None:
            if row is not None:
                session.delete(row)
                changed.append(key)
        elif row is None:
            session.add(OrgSetting(key=key, value=value))
            changed.append(key)
        elif row.value != value:
            row.value = value
            changed.append(key)
    session.flush()
    return changed


# --- reading the database -----------------------------------------------------


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
    return [_view(row) for row in session.scalars(query)]


def _view(row: Contact) -> ContactWithChannels:
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
        _view(row)
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

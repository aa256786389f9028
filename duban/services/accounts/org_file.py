"""The organisation file: read it and keep the database in step with it.

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

Who gets messages, read back from the database, is :mod:`duban.services.accounts.org`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.domain.labels import ORG_ROLE_LABELS
from duban.domain.org import (
    ContactRole,
    ContactSpec,
    OrgFile,
    contact_key,
    parse_org,
    url_scheme,
)
from duban.services.accounts.directory import SyncReport, read_directory_yaml, sync_departments
from duban.services.ladder.policy import (
    PolicyChange,
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


def load_org_file(path: Path) -> OrgFile:
    """Read and validate an organisation (or plain directory) file.

    Every notification address is checked with ``validate_url`` before this
    returns. Raises a DubanError (DirectoryError, OrgFileError, …) naming the
    file and the entry; a bad address is shown only by its scheme.
    """
    data = read_directory_yaml(path)
    return parse_org(data, source=str(path), check_url=validate_url)


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

"""duban's ORM models (SQLAlchemy 2). Tables only: no use-case logic here.

Import every model from here (``from models import Plan``) so that
``Base.metadata`` always holds the full schema.
"""

from __future__ import annotations

from models.base import NAMING_CONVENTION, Base, UTCDateTime
from models.calendar import CalendarYear
from models.department import DEPARTMENT_KINDS, Department, DepartmentAlias
from models.document import DOCUMENT_KINDS, IssuedDocument
from models.outbox import (
    CONTACT_ROLES,
    DELIVERY_STATUSES,
    Contact,
    ContactChannel,
    Delivery,
    DeliveryAttempt,
    DeliveryItem,
    EscalationPolicyRow,
    OrgSetting,
)
from models.plan import (
    COMPARATORS,
    PLAN_STATUSES,
    ROLES,
    Measure,
    Plan,
    Responsibility,
    Section,
    Target,
    section_heading,
)
from models.task import (
    EXTENSION_STATUSES,
    NOTICE_STATUSES,
    TASK_STATES,
    ExtensionRequest,
    IndicatorReading,
    LightsStored,
    MeasureLights,
    Notice,
    Task,
    TaskEvent,
    TaskScore,
)
from models.web import (
    USER_ROLES,
    Attachment,
    AuditEntry,
    DepartmentLinkEpoch,
    StaffSession,
    User,
)

__all__ = [
    "COMPARATORS",
    "CONTACT_ROLES",
    "DELIVERY_STATUSES",
    "DEPARTMENT_KINDS",
    "DOCUMENT_KINDS",
    "EXTENSION_STATUSES",
    "NAMING_CONVENTION",
    "NOTICE_STATUSES",
    "PLAN_STATUSES",
    "ROLES",
    "TASK_STATES",
    "USER_ROLES",
    "Attachment",
    "AuditEntry",
    "Base",
    "CalendarYear",
    "Contact",
    "ContactChannel",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryItem",
    "Department",
    "DepartmentAlias",
    "DepartmentLinkEpoch",
    "EscalationPolicyRow",
    "ExtensionRequest",
    "IndicatorReading",
    "IssuedDocument",
    "LightsStored",
    "Measure",
    "MeasureLights",
    "Notice",
    "OrgSetting",
    "Plan",
    "Responsibility",
    "Section",
    "StaffSession",
    "Target",
    "Task",
    "TaskEvent",
    "TaskScore",
    "UTCDateTime",
    "User",
    "section_heading",
]

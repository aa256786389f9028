"""The words users read for the codes duban stores: one table per vocabulary.

The CLI, the web pages, the ledger and the messages take their labels from
here, so a level, a role or a status reads the same everywhere; a test
(tests/unit/test_labels.py) fails when a second copy of one of these tables
appears in product code. Keys are the stored values as plain strings: the
domain's StrEnums (``Role.LEAD``, ``NoticeStatus.SENT``) are equal to them
and look them up as well.

Decisions where copies disagreed:
- Levels 2 and 3 are 黄色督办/红色督办 (as on the pages, in the ledger and in
  messages), no longer 督办(黄)/督办(红) in the CLI.
- The comparator ``=`` is shown as 约: the parser reads 约, 左右, 上下 and 为
  as ``=`` and the plan editor offers it as 约等于, so a bare "=" would claim
  an exactness most such targets do not have.
"""

from __future__ import annotations

from duban.domain.lifecycle import ExtensionStatus
from duban.domain.outbox import DeliveryStatus, NoticeStatus

# The rungs of the ladder (LadderStep.level, Notice.level).
LEVEL_LABELS: dict[int, str] = {0: "提醒", 1: "催办", 2: "黄色督办", 3: "红色督办"}

# What each rung entails, where the ladder ahead is shown (a task's page).
# A task's (or a responsibility's) role in its measure, short and as a unit.
TASK_ROLE_LABELS: dict[str, str] = {"lead": "牵头", "supporting": "配合"}
UNIT_ROLE_LABELS: dict[str, str] = {"lead": "牵头单位", "supporting": "配合单位"}

# Who a ladder step reaches (escalation.Audience).
AUDIENCE_LABELS: dict[str, str] = {
    "liaison": "联络员",
    "head": "负责人",
    "coordinators": "督办科",
    "supervisors": "督查室",
    "lead_department": "牵头单位联络员",
}

# A numeric target's comparator (Target.comparator), as a sign before its value.
COMPARATOR_SIGNS: dict[str, str] = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "=": "约"}
# The same, as the plan editor offers them to choose from.
COMPARATOR_NAMES: dict[str, str] = {**COMPARATOR_SIGNS, "=": "约等于"}

NOTICE_STATUS_LABELS: dict[str, str] = {
    NoticeStatus.PENDING: "待发送",
    NoticeStatus.SENT: "已送达",
    NoticeStatus.FAILED: "发送失败",
    NoticeStatus.SUPERSEDED: "已取代(未发送)",
}
DELIVERY_STATUS_LABELS: dict[str, str] = {
    DeliveryStatus.PENDING: "待发送",
    DeliveryStatus.SENDING: "发送中",
    DeliveryStatus.SENT: "已送达",
    DeliveryStatus.FAILED: "未送达(重试中)",
    DeliveryStatus.DEAD: "被拒收(不再重试)",
    DeliveryStatus.SUPERSEDED: "已取代(内容已过时,未发送)",
}
# The deliveries page's status filter (its "failed" includes given-up deliveries).
DELIVERY_FILTER_LABELS: dict[str, str] = {
    DeliveryStatus.SENT: "已送达",
    DeliveryStatus.PENDING: "待发送",
    DeliveryStatus.FAILED: "发送失败",
}

# An extension request (Extension.status).
EXTENSION_STATUS_LABELS: dict[str, str] = {
    ExtensionStatus.PENDING: "待审批",
    ExtensionStatus.APPROVED: "已同意",
    ExtensionStatus.REFUSED: "不同意",
}

# A contact's role (Contact.role), as a recipient of messages.
CONTACT_ROLE_LABELS: dict[str, str] = {
    "liaison": "联络员",
    "head": "单位负责人",
    "coordinator": "督办科",
    "supervisor": "督查室",
}

# A contact's role as the organisation file lists people (duban org show,
# its errors, the sync report's names such as 全市/督办人员/张三).
ORG_ROLE_LABELS: dict[str, str] = {
    "liaison": "联络员",
    "head": "负责人",
    "coordinator": "督办人员",
    "supervisor": "督查人员",
}

# A staff account's role (User.role).
STAFF_ROLE_LABELS: dict[str, str] = {"coordinator": "督办科", "supervisor": "督查室"}

"""Render a notice from Jinja2 templates into title, text, HTML and WeCom markdown.

The one place that turns plain data into message text. No database access: the
caller builds the context below and gets a :class:`RenderedMessage` back.

Templates
    ``<templates_dir>/notifications/<step>/{title.txt, body.txt, body.html, body.md}``
    where ``templates_dir`` is the project's ``templates/`` root
    (:data:`DEFAULT_TEMPLATES_DIR`). Shared layout and partials live in
    ``notifications/_partials/``. ``.html`` is autoescaped; ``.md`` escapes every
    ``{{ expression }}`` with :func:`notifications.markdown.md_escape` unless a
    filter marked it as markdown already (``href``, ``md``), so user text can never
    open a heading, a link or a ``<font>`` tag; ``.txt`` is plain. Undefined
    variables are errors (``jinja2.StrictUndefined``), in production as in tests.

Steps (:data:`STEPS`)
    ``assigned`` 交办通知, ``ack_reminder`` 签收提醒, ``due_reminder`` 到期提醒 (sent 10 and
    3 working days before the due date), ``report_reminder`` 报送提醒, ``urge`` 催办
    (level 1), ``manual_urge`` 督办科催办 (level 1, taken by hand, with a note),
    ``escalate_yellow`` 黄色督办单 (level 2), ``escalate_red`` 红色督办单 / 约谈
    (level 3), ``task_cancelled`` 任务撤销通知 (the task's last message: its
    ``note`` says why and which task replaces it), ``due_moved`` 期限调整通知 (a new
    holiday arrangement moved the due date; ``note`` names the rule), ``digest`` (several items of
    any steps for one recipient on one working day) and ``delivery_failed`` (to
    coordinators). Reports (:data:`REPORT_STEPS`):
    ``weekly_digest`` 每周督办简报 and ``weekly_summary`` 每周任务清单, whose context
    is documented in ``duban/services/reports/digest.py`` (``items`` empty).

Context contract (every step)
    ``recipient_name``  str   the person addressed (联络员 name, or the coordinator)
    ``department``      str   official department name the notice is about
    ``sender``          str   the office sending it, e.g. ``督办科``
    ``base_url``        str   the system's public http(s) root, shown as the way in
    ``items``           list  one mapping per task, at least one (may be empty only
                              for ``delivery_failed``), each with

        required: ``step`` (a step name), ``step_label`` (e.g. ``催办``),
        ``task_id``, ``measure_number``, ``measure_title``, ``role_label``
        (``牵头``/``配合``), ``due`` (``YYYY-MM-DD``), ``link`` (the task page, http(s))

        optional (default ``None``/``[]``/``0``): ``level`` (0-3, escalation rung),
        ``original_due`` (shown when it differs from ``due``: an approved extension),
        ``days_left`` (working days to ``due``) or ``days_overdue`` (working days
        past it), ``next_step_label`` + ``next_step_date`` (the next rung of the
        ladder if nothing happens, e.g. ``催办`` on ``2015-12-31``),
        ``other_departments`` (list of names sharing the measure), ``note``
        (what a coordinator wrote when taking a step by hand, e.g. ``manual_urge``)

        reader-facing (optional): ``department`` (the item's own unit; the
        digest-level ``department`` is only the fallback), ``lead_departments``
        (names leading its measure), ``source`` (a single 督办件's source and 文号),
        ``rung`` (default from ``level``: 提醒/催办/黄色督办/红色督办)

``delivery_failed`` needs, per report, ``failed_step_label`` (what could not be
delivered, e.g. ``交办通知``), ``failed_contact`` (the contact URL: the template
only ever prints its privacy form), ``failed_error`` (``SendOutcome.error``,
already free of secrets) and ``failed_attempts`` (int), and optionally
``failed_recipient``, ``failed_departments`` (every department of the failed
message), ``failed_tasks`` (how many) and ``failed_link`` (its desk page): either
at the top level (one report) or as a ``failures`` list (which ``staff_digest``
also prints).

Readers (built by ``duban/services/outbox/message.py``): ``staff_digest`` (督办科, 督查室)
and ``lead_digest`` (a lead department about its supporters) print ``items``
grouped by measure (filter ``by_measure``); ``digest`` prints an optional
``watched_items`` list (supporters' tasks, read-only links) after the
department's own ``items``.

Every message says what is due (measure, task), by whom (department, role), when
(due date, days left/overdue), what happens next (next rung and date) and how to
act (the task link and ``base_url``). Dates may be ``datetime.date`` or strings.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from duban.domain.labels import LEVEL_LABELS
from notifications.markdown import (
    WECOM_BOT_LIMIT_BYTES,
    MdText,
    fit_markdown,
    md_escape,
    md_link,
    safe_href,
)

__all__ = [
    "DEFAULT_TEMPLATES_DIR",
    "STEPS",
    "WECOM_BOT_LIMIT_BYTES",
    "RenderedMessage",
    "fit_markdown",
    "render",
]

TITLE_MAX = 60  # characters; a subject or card title longer than this is cut
DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

STEPS: dict[str, str] = {
    "assigned": "交办通知",
    "ack_reminder": "签收提醒",
    "due_reminder": "到期提醒",
    "report_reminder": "报送提醒",
    "urge": "催办",
    "manual_urge": "督办科催办",
    "escalate_yellow": "黄色督办单",
    "escalate_red": "红色督办单",
    "task_cancelled": "任务撤销通知",
    "due_moved": "期限调整通知",
    "digest": "督办提醒",
    "delivery_failed": "送达失败",
    # Written for their reader (duban/services/outbox/message.py): staff, and a lead
    # department about its supporting units' tasks.
    "staff_digest": "督办情况",
    "lead_digest": "配合单位督办情况",
    # Weekly reports (REPORT_STEPS, built by duban.services.reports.digest).
    "weekly_digest": "每周督办简报",
    "weekly_summary": "每周任务清单",
}
# Steps whose messages are reports, not notices about tasks: their context is
# their own (documented in duban/services/reports/digest.py) and ``items`` may be empty.
REPORT_STEPS = frozenset({"weekly_digest", "weekly_summary"})
_ITEMS_OPTIONAL = frozenset({"delivery_failed"}) | REPORT_STEPS

_REQUIRED_CONTEXT = ("recipient_name", "department", "sender", "base_url", "items")
_REQUIRED_ITEM = (
    "step",
    "step_label",
    "task_id",
    "measure_number",
    "measure_title",
    "role_label",
    "due",
    "link",
)
_OPTIONAL_ITEM: dict[str, Any] = {
    "level": 0,
    "original_due": None,
    "days_left": None,
    "days_overdue": None,
    "next_step_label": None,
    "next_step_date": None,
    "other_departments": (),
    "note": None,
    "department": None,
    "lead_departments": (),
    "source": "",
    "rung": None,
    "read_only": False,
}
_FAILURE_KEYS = (
    "failed_step_label",
    "failed_contact",
    "failed_error",
    "failed_attempts",
)
_FAILURE_OPTIONAL: dict[str, Any] = {
    "failed_recipient": "",
    "failed_departments": (),
    "failed_tasks": 0,
    "failed_link": "",
}


class _Later:
    """A text made when it is first read, then kept; made again on the next
    read if making it raised. Equal to another whose text is equal."""

    __slots__ = ("_make", "_text")

    def __init__(self, make: Callable[[], str]) -> None:
        self._make: Callable[[], str] | None = make
        self._text = ""

    @property
    def text(self) -> str:
        if self._make is not None:
            self._text = self._make()
            self._make = None  # lets go of the context it was made from
        return self._text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Later) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)


@dataclass(frozen=True)
class RenderedMessage:
    """One notice in every format a channel may want.

    ``title`` is one line (email subject); ``text`` plain text; ``html`` a complete
    HTML document; ``markdown`` WeCom markdown starting with a ``## heading`` line
    (it may exceed 4096 bytes: the WeCom plugin splits it with ``fit_markdown``).

    ``markdown`` is rendered when first read, not with the rest: only WeCom
    reads it, and its template is the dearest of the four (every expression
    escaped; ~0.2 ms of a mail's CPU). A template error in it is raised there.
    """

    title: str
    text: str
    html: str
    _markdown: _Later = field(repr=False)

    @property
    def markdown(self) -> str:
        return self._markdown.text


def render(step: str, context: Mapping[str, Any], *, templates_dir: Path) -> RenderedMessage:
    """Render ``step`` with ``context`` (see the module docstring for both).

    Raises ``ValueError`` for an unknown step, a missing required context key or
    item key, and ``jinja2.TemplateError`` (e.g. ``UndefinedError``) for a template
    that uses something the context does not have — for ``body.md``, when the
    message's ``markdown`` is first read.
    """
    if step not in STEPS:
        raise ValueError(f"unknown notification step {step!r}; expected one of {sorted(STEPS)}")
    values = _normalise(step, context)
    envs = _environments(Path(templates_dir).resolve())

    def one(name: str, kind: str) -> str:
        return envs[kind].get_template(f"notifications/{step}/{name}").render(values)

    title = " ".join(one("title.txt", "txt").split())
    if len(title) > TITLE_MAX:
        # Long unbroken CJK subjects are not folded by Python's compat32 email
        # header code and SMTP servers refuse lines over 998 bytes.
        title = title[: TITLE_MAX - 1] + "…"
    return RenderedMessage(
        title=title,
        text=_tidy(one("body.txt", "txt")),
        html=one("body.html", "html").strip(),
        _markdown=_Later(lambda: _tidy(one("body.md", "md"))),
    )


def render_drawing(name: str, context: Mapping[str, Any], *, templates_dir: Path) -> str:
    """Render the standalone SVG template ``name`` (under ``templates_dir``, e.g.
    ``reports/indicator_chart.svg``) with ``context``: autoescaped, undefined
    variables are errors. The charts of the pages, the ledger and the digest
    are drawn here, with the messages' loader and settings."""
    env = _environments(Path(templates_dir).resolve())["svg"]
    return env.get_template(name).render(context)


def _normalise(step: str, context: Mapping[str, Any]) -> dict[str, Any]:
    missing = [key for key in _REQUIRED_CONTEXT if key not in context]
    if missing:
        raise ValueError(f"notification context for {step!r} lacks {', '.join(missing)}")
    items = context["items"]
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ValueError("notification context 'items' must be a list of mappings")
    if not items and step not in _ITEMS_OPTIONAL:
        raise ValueError(f"notification context for {step!r} has no items")
    failures = [_failure(f, where=f"failures[{i}]") for i, f in enumerate(
        context.get("failures") or ())]
    if step == "delivery_failed" and not failures:
        failures = [_failure(context, where="context")]
    if step == "delivery_failed":
        failures_first = {**failures[0]}
    else:
        failures_first = {}
    return {
        **_FAILURE_OPTIONAL,
        **failures_first,
        **context,
        "items": _items(items, "items"),
        "watched_items": _items(context.get("watched_items") or (), "watched_items"),
        "failures": failures,
        "message_step": step,
        "step_title": STEPS[step],
    }


def _items(items: Sequence[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
    normalised = []
    for index, item in enumerate(items):
        lacking = [key for key in _REQUIRED_ITEM if key not in item]
        if lacking:
            raise ValueError(f"{name}[{index}] lacks {', '.join(lacking)}")
        full = {**_OPTIONAL_ITEM, **item}
        full["other_departments"] = list(full["other_departments"] or ())
        full["lead_departments"] = list(full["lead_departments"] or ())
        if full["rung"] is None:
            full["rung"] = LEVEL_LABELS.get(int(full["level"] or 0), "提醒")
        normalised.append(full)
    return normalised


def _failure(values: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """One delivery-failure report: the required ``failed_*`` keys and the optional ones."""
    lacking = [key for key in _FAILURE_KEYS if key not in values]
    if lacking:
        raise ValueError(f"delivery failure in {where} lacks {', '.join(lacking)}")
    report = {key: values[key] for key in _FAILURE_KEYS}
    for key, default in _FAILURE_OPTIONAL.items():
        report[key] = values.get(key) or default
    report["failed_departments"] = list(report["failed_departments"])
    return report


def by_measure(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``items`` grouped by measure, for readers who oversee many units: the
    measures with the highest rung first (then by number), and within one the
    most severe, then by unit. Each group: ``number``, ``title``, ``source``,
    ``leads`` (lead departments' names), ``top_level`` and ``tasks`` (the items)."""
    groups: dict[tuple[Any, str, str], dict[str, Any]] = {}
    for item in items:
        key = (item["measure_number"], str(item["measure_title"]), str(item.get("source") or ""))
        group = groups.setdefault(
            key,
            {"number": key[0], "title": key[1], "source": key[2], "leads": [], "tasks": [],
             "top_level": 0},
        )
        group["tasks"].append(item)
        group["top_level"] = max(group["top_level"], int(item.get("level") or 0))
        for lead in item.get("lead_departments") or ():
            if lead not in group["leads"]:
                group["leads"].append(lead)
    for group in groups.values():
        group["tasks"].sort(
            key=lambda i: (-int(i.get("level") or 0), str(i.get("department") or ""), str(i["due"]))
        )
    return sorted(groups.values(), key=lambda g: (-g["top_level"], g["number"], g["title"]))


def rung_counts(items: Sequence[Mapping[str, Any]]) -> str:
    """``红色督办 3 项、黄色督办 9 项``: how many items of each rung, highest first."""
    counts: dict[int, int] = {}
    for item in items:
        level = int(item.get("level") or 0)
        counts[level] = counts.get(level, 0) + 1
    return "、".join(f"{LEVEL_LABELS.get(level, '提醒')} {counts[level]} 项" for level in sorted(
        counts, reverse=True))


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    """Strip trailing spaces, collapse blank-line runs left by template logic, no final newline.

    No final newline: Apprise strips it anyway, and what we render is what is sent.
    """
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines))


def _none_as_empty(value: Any) -> Any:
    return "" if value is None else value


def _md_finalize(value: Any) -> str:
    return md_escape(value)


def _privacy(url: Any) -> str:
    # Imported here: rendering must not pay for importing apprise unless a
    # template prints a contact.
    from notifications.contacts import privacy

    return privacy("" if url is None else str(url))


def _names(values: Any) -> str:
    if values is None:
        return ""
    if isinstance(values, str):
        return values
    return "、".join(str(value) for value in values)


class _KeptBytecode(jinja2.FileSystemBytecodeCache):
    """Jinja's on-disk cache of compiled templates, never in the way: a file
    that cannot be read or written is compiled again, as without a cache."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache(kind: str, settings: Mapping[str, Any]) -> jinja2.BytecodeCache | None:
    """The compiled templates of one output kind, kept between processes.

    A process that renders compiles every template it uses on first use (~60 ms
    of CPU for one step's four files and their partials), and the outbox and
    Prefect's flow runs each start a new process. Jinja keeps the compiled
    code in its per-user temporary directory (created 0700, refused if someone
    else owns it); an entry is used only while its template's source is
    unchanged (checksum) and for the same Jinja and Python. What the code
    depends on besides the source — the kind's compile settings — is in the
    file names, so kinds and versions of the settings never share an entry.
    None (compile in each process) when there is no safe directory."""
    described = repr(sorted((key, getattr(v, "__qualname__", v)) for key, v in settings.items()))
    tag = hashlib.sha1(described.encode("utf-8")).hexdigest()[:12]
    try:
        return _KeptBytecode(pattern=f"duban-{kind}-{tag}-%s.cache")
    except (OSError, RuntimeError):
        return None


@lru_cache(maxsize=8)
def _environments(root: Path) -> dict[str, jinja2.Environment]:
    """One environment per output kind; cached per templates directory."""
    loader = jinja2.FileSystemLoader(str(root))
    common_filters: dict[str, Callable[..., Any]] = {
        "privacy": _privacy,
        "names": _names,
        "by_measure": by_measure,
        "rung_counts": rung_counts,
    }

    def make(kind: str, **options: Any) -> jinja2.Environment:
        settings: dict[str, Any] = {
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": False,
            **options,
        }
        env = jinja2.Environment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            bytecode_cache=_bytecode_cache(kind, settings),
            **settings,
        )
        env.filters.update(common_filters)
        env.globals["output_kind"] = kind
        return env

    html = make("html", autoescape=True, finalize=_none_as_empty)
    html.filters["href"] = safe_href
    txt = make("txt", autoescape=False, finalize=_none_as_empty)
    txt.filters["href"] = safe_href
    md = make("md", autoescape=False, finalize=_md_finalize)
    md.filters["md"] = md_escape
    md.filters["href"] = lambda url: MdText(safe_href(url))
    md.filters["mdlink"] = md_link
    svg = make("svg", autoescape=True)
    return {"html": html, "txt": txt, "md": md, "svg": svg}

"""The desk's single 督办件 (领导批示, 会议纪要 …): a form to record one, which
becomes the next measure of the year's standing plan and is assigned at once
(the service the measure flow runs), and the list of recorded items.

A refused form comes back (400) with the input kept and each field's error;
nothing is written.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from duban.domain.errors import DubanError
from duban.domain.items import (
    SOURCE_LABELS,
    ItemError,
    ItemInput,
    check_item,
    item_source_text,
)
from duban.services.accounts.directory import stored_directory
from duban.services.plans.assignment import assign_measure
from duban.services.plans.items import add_item, known_names, list_items
from duban.web.auth import CheckedForm, Coordinator
from duban.web.state import flash, render, state_of

router = APIRouter(include_in_schema=False)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _page(request: Request, *, raw: ItemInput | None = None, assign: bool = True,
          errors: list[ItemError] | None = None) -> Response:
    web = state_of(request)
    names = [n for d in stored_directory(web.context.session_factory) for n in d.names()]
    by_field: dict[str, list[str]] = {}
    for error in errors or []:
        by_field.setdefault(error.field, []).append(error.message)
    return render(
        request, "desk/items.html", status_code=400 if errors else 200,
        raw=raw or ItemInput(), assign=assign, errors=errors or [], by_field=by_field,
        sources=list(SOURCE_LABELS.values()), known_names=names,
        items=list_items(web.context.session_factory), origin=item_source_text,
    )


@router.get("/desk/items")
def items_page(request: Request, user: Coordinator) -> Response:
    return _page(request)


@router.post("/desk/items")
def add(request: Request, user: Coordinator, form: CheckedForm) -> Response:
    web = state_of(request)
    raw = ItemInput(
        source=_text(form, "source"), doc_ref=_text(form, "doc_ref"), title=_text(form, "title"),
        text=_text(form, "text"), lead=[_text(form, "lead")],
        supporting=[_text(form, "supporting")], due=_text(form, "due"),
        leader=_text(form, "leader"),
    )
    assign = form.get("assign") == "on"
    item, errors = check_item(raw, known=known_names(web.context.session_factory),
                              today=web.today())
    if item is None:
        return _page(request, raw=raw, assign=assign, errors=errors)
    try:
        record = add_item(item, session_factory=web.context.session_factory,
                          now=web.clock.now(), zone=web.zone, actor=user.actor)
    except DubanError as err:
        return _page(request, raw=raw, assign=assign, errors=[ItemError("lead", str(err))])
    done = f"已登记督办件:{record.plan} 措施{record.number} {record.title}。"
    if assign:
        try:
            result = assign_measure(web.context.session_factory, plan=record.plan,
                                    measure=record.number, now=web.clock.now(),
                                    calendar=web.context.calendar,
                                    policy=web.context.assignment_policy)
        except DubanError as err:
            flash(request, done + f"未能交办:{err}", "error")
            return RedirectResponse("/desk/items", 303)
        done += f"已交办 {len(result.created)} 项任务,交办通知将在办公时间内发出。"
        web.wake_delivery()
    else:
        done += "尚未交办,可在“方案与交办”中交办。"
    flash(request, done)
    return RedirectResponse("/desk/items", 303)

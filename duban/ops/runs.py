"""Running deployments and waiting for their flow runs: what ``duban assign
--deployed`` and the cluster tests use to drive the production profile.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from duban.ops.cluster import LOG


@dataclass(frozen=True)
class RunOutcome:
    """How one deployment run ended."""

    parameters: dict[str, Any]
    flow_run_id: str
    name: str
    state: str  # COMPLETED, FAILED, CRASHED, … (TIMEOUT: still not final)
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "COMPLETED"


def run_deployments(
    deployment: str,
    parameter_sets: Sequence[Mapping[str, Any]],
    *,
    api_url: str,
    timeout: float = 3600.0,
    poll: float = 1.0,
    job_variables: Sequence[Mapping[str, Any] | None] | None = None,
) -> list[RunOutcome]:
    """Create one run of ``deployment`` ("flow/deployment") per parameter set,
    let the workers take them, and wait until every run is final (or
    ``timeout`` seconds have passed). Returns the outcomes in order.
    ``job_variables[i]`` (e.g. ``{"env": {...}}``) applies to run ``i`` only."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def run_all() -> list[RunOutcome]:
        async with get_client() as client:
            runs = await _create_runs(client, deployment, parameter_sets, job_variables)
            final = await _wait_final(client, runs, timeout=timeout, poll=poll)
            return await _outcomes(client, parameter_sets, runs, final)

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        return asyncio.run(run_all())


async def _create_runs(
    client: Any,
    deployment: str,
    parameter_sets: Sequence[Mapping[str, Any]],
    job_variables: Sequence[Mapping[str, Any] | None] | None,
) -> list[Any]:
    """One flow run of ``deployment`` per parameter set, not waited for."""
    from prefect.deployments import run_deployment

    runs = []
    for index, parameters in enumerate(parameter_sets):
        variables = job_variables[index] if job_variables else None
        runs.append(
            await cast(
                Awaitable[Any],
                run_deployment(
                    deployment,
                    client=client,
                    parameters=dict(parameters),
                    timeout=0,
                    as_subflow=False,
                    job_variables=dict(variables) if variables else None,
                ),
            )
        )
    return runs


async def _wait_final(
    client: Any, runs: list[Any], *, timeout: float, poll: float
) -> dict[Any, Any]:
    """The runs that reached a final state within ``timeout`` seconds, by id."""
    import asyncio

    deadline = time.monotonic() + timeout
    final: dict[Any, Any] = {}
    while True:
        for run in runs:
            if run.id in final:
                continue
            try:
                current = await client.read_flow_run(run.id)
            except Exception as err:  # the server is restarting: ask again
                LOG.warning("读取流程运行状态失败(%s),稍后重试", type(err).__name__)
                break
            if current.state is not None and current.state.is_final():
                final[run.id] = current
        if len(final) == len(runs) or time.monotonic() > deadline:
            return final
        await asyncio.sleep(poll)


async def _outcomes(
    client: Any,
    parameter_sets: Sequence[Mapping[str, Any]],
    runs: list[Any],
    final: dict[Any, Any],
) -> list[RunOutcome]:
    """How each run ended, in order (TIMEOUT: not final yet)."""
    outcomes = []
    for parameters, run in zip(parameter_sets, runs, strict=True):
        current = final.get(run.id) or await client.read_flow_run(run.id)
        state = current.state
        final_state = run.id in final and state is not None
        outcomes.append(
            RunOutcome(
                parameters=dict(parameters),
                flow_run_id=str(run.id),
                name=current.name,
                state=state.type.value if final_state and state else "TIMEOUT",
                message=state.message if state else None,
            )
        )
    return outcomes

"""The admin's dashboard page: /dashboard?days=7|30|90 (admins only; an agent gets 403).

The figures are in the page as tables, and as JSON in a ``<script type="application/json">``
element that static/dashboard.js draws with Chart.js (vendored by `make desk-assets`): the CSP
allows no inline script. Without the vendored file the tables are the whole page, with a note.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.desk import auth
from bot.desk.dashboard import PERIODS, DashboardReports, charts_available, parse_days
from bot.desk.web import admin_login, desk_of, page

logger = logging.getLogger(__name__)

router = APIRouter()


def _reports(request: Request) -> DashboardReports:
    """One DashboardReports per app, made on first use (on the event loop: no race)."""
    reports = getattr(request.app.state, "dashboard_reports", None)
    if reports is None:
        desk = desk_of(request)
        reports = DashboardReports(desk.sessions, desk.settings, desk.clock)
        request.app.state.dashboard_reports = reports
    return reports


@router.get("/dashboard")
async def dashboard(request: Request, login: auth.Login = Depends(admin_login)) -> Response:
    days = parse_days(request.query_params.get("days"))
    if days is None:
        raise HTTPException(400, "Choose a period of " + ", ".join(map(str, PERIODS)) + " days.")
    report = await run_in_threadpool(_reports(request).get, days)
    logger.info("desk.dashboard agent=%d days=%d", login.agent_id, days)
    return page(request, "dashboard.html", login, report=report, days=days, periods=PERIODS,
                charts=charts_available())

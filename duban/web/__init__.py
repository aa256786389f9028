"""The web pages and JSON API (``duban serve``): :func:`create_app` builds the
application; one module per role (dashboard: 督查室, desk: 督办科, department:
the liaison's page reached by a signed link), plus auth, the API and the
in-process scheduler."""

from __future__ import annotations

from duban.web.app import create_app

__all__ = ["create_app"]

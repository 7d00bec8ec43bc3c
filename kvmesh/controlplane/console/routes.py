"""The /console router: every console page, its forms and its static files."""

from __future__ import annotations

from fastapi import APIRouter

from kvmesh.controlplane.console import (
    admin_pages,
    auth_pages,
    deployment_pages,
    key_pages,
    playground,
    usage_pages,
)

router = APIRouter(include_in_schema=False)
for module in (auth_pages, usage_pages, key_pages, deployment_pages, playground, admin_pages):
    router.include_router(module.router, prefix="/console")

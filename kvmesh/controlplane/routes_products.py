"""Products: the deployable offerings. Seeded from the catalog (one per catalog model), admin-editable.

`seed_products` runs at every Control Plane start and adds a product for each catalog model that
has none yet; it never overwrites an admin's edits. Deleting a catalog-backed product deactivates
it (the catalog still holds the model, so it would only come back); other products are removed.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvmesh.controlplane.deps import AdminUser, CurrentUser, DbSession
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import ShortText
from kvmesh.controlplane.wire_models import error_responses
from kvmesh.store.models import CatalogModel, Product

router = APIRouter(tags=["products"], responses=error_responses())


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: ShortText | None = None
    name: ShortText | None = None
    requiredGpuNum: int | None = Field(default=None, ge=0, le=1024)
    family: ShortText | None = Field(default=None, max_length=80)
    isActive: bool | None = None
    spec: dict[str, Any] | None = None


class ProductUpsert(BaseModel):
    product: ProductIn


def product_id_for(catalog_name: str) -> str:
    """A path-safe product id from a catalog model name (`Org/Model-1B` -> `org-model-1b`)."""
    return re.sub(r"[^a-z0-9.]+", "-", catalog_name.lower()).strip("-")


def product_record(row: Product) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "requiredGpuNum": row.required_gpu_num,
        "family": row.family,
        "isActive": row.is_active,
        "spec": dict(row.spec or {}),
    }


def seed_products(session: Session) -> None:
    """Add a product for each catalog model that has none (the caller commits)."""
    existing = set(session.scalars(select(Product.id)))
    for model in session.scalars(select(CatalogModel)):
        product_id = product_id_for(model.name)
        if product_id in existing:
            continue
        gpus = model.options.get("gpu_count", 0 if model.engine == "llamacpp" else 1) if model.options else 0
        session.add(
            Product(
                id=product_id,
                name=model.description or model.name,
                required_gpu_num=int(gpus) if isinstance(gpus, int) else 0,
                family=model.engine,
                spec={
                    "catalogModel": model.name,
                    "engine": model.engine,
                    "contextLength": model.context_length,
                },
            )
        )


def _catalog_backed(session: Session, row: Product) -> bool:
    name = (row.spec or {}).get("catalogModel")
    return (
        isinstance(name, str)
        and session.scalar(select(CatalogModel.id).where(CatalogModel.name == name)) is not None
    )


@router.get("/v1/products")
def list_products(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """The active offerings."""
    rows = session.scalars(select(Product).where(Product.is_active.is_(True)).order_by(Product.id))
    return {"products": [product_record(row) for row in rows]}


@router.get("/v1/admin/products", tags=["admin"])
def admin_list_products(admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Every product, active or not."""
    return {
        "products": [product_record(row) for row in session.scalars(select(Product).order_by(Product.id))]
    }


@router.post("/v1/admin/products", tags=["admin"])
def admin_upsert_product(body: ProductUpsert, admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Create a product (`id` and `name` required) or change the fields given of an existing one."""
    given = body.product
    if not given.id or not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", given.id.strip()):
        raise ApiError(400, "product.id is required: letters, digits, '.', '_' or '-'", "invalid_product_id")
    row = session.get(Product, given.id.strip())
    if row is None:
        if not given.name or not given.name.strip():
            raise ApiError(400, "product.name is required for a new product", "invalid_product")
        row = Product(id=given.id.strip(), name=given.name.strip(), required_gpu_num=0, family="", spec={})
        session.add(row)
    if given.name is not None and given.name.strip():
        row.name = given.name.strip()
    if given.requiredGpuNum is not None:
        row.required_gpu_num = given.requiredGpuNum
    if given.family is not None:
        row.family = given.family.strip()
    if given.isActive is not None:
        row.is_active = given.isActive
    if given.spec is not None:
        row.spec = given.spec
    session.commit()
    return {"product": product_record(row)}


@router.delete("/v1/products/{product_id}", tags=["admin"])
def admin_delete_product(product_id: str, admin: AdminUser, session: DbSession) -> dict[str, Any]:
    row = session.get(Product, product_id.strip())
    if row is None:
        raise ApiError(404, f"no such product: {product_id}", "product_not_found")
    if _catalog_backed(session, row):
        row.is_active = False
    else:
        session.delete(row)
    session.commit()
    return {"deleted": True}

"""Support: tickets and reserved-deployment requests, stored for the operator (§7).

A user sees only their own tickets (404 for anyone else's). Admins see every ticket and answer or
close it through the same routes (their messages carry `USER_ROLE_ADMIN`), and list and answer
reserved-deployment requests under `/v1/admin/support/...`.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvmesh.controlplane.access import is_admin, resolve_user_id
from kvmesh.controlplane.deps import AdminUser, CurrentUser, DbSession
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import PageNumberQuery, PageSizeQuery, SafeText, ShortText, UserIdQuery
from kvmesh.controlplane.rfc3339 import format_rfc3339
from kvmesh.controlplane.wire_models import error_responses
from kvmesh.store.models import ReservedDeploymentRequest, SupportTicket, TicketMessage, User, utcnow

router = APIRouter(tags=["support"], responses=error_responses())

OPEN, CLOSED = "TICKET_STATUS_OPEN", "TICKET_STATUS_CLOSED"
ANSWERED = "TICKET_STATUS_ANSWERED"
MAX_MESSAGES = 200
RESERVED_FIELDS = (
    "fullName",
    "workEmail",
    "company",
    "jobTitle",
    "preferredGpu",
    "totalGpusNeeded",
    "deploymentTimeline",
    "workloadUseCase",
    "networkingStorage",
    "otherNotes",
)


class CreateTicketBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    subject: SafeText = Field(min_length=1, max_length=500)
    message: SafeText = Field(min_length=1)
    userId: ShortText | None = None
    type: ShortText | None = None


class TicketMessageBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    message: SafeText | dict[str, Any]
    userId: ShortText | None = None


class ReservedBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    fullName: SafeText = ""
    workEmail: SafeText = ""
    company: SafeText = ""
    jobTitle: SafeText = ""
    preferredGpu: SafeText = ""
    totalGpusNeeded: SafeText | int = ""
    deploymentTimeline: SafeText = ""
    workloadUseCase: SafeText = ""
    networkingStorage: SafeText = ""
    otherNotes: SafeText = ""


class AnswerBody(BaseModel):
    answer: SafeText = Field(min_length=1)
    close: bool = True


def ticket_record(row: SupportTicket, names: dict[str, str]) -> dict[str, Any]:
    return {
        "ticketId": row.id,
        "subject": row.subject,
        "requesterUserId": row.user_id,
        "status": row.status,
        "type": row.ticket_type,
        "conversations": [
            {
                "userId": message.user_id,
                "userName": message.user_name or names.get(message.user_id, ""),
                "userRole": message.user_role,
                "content": message.content,
                "createdAt": format_rfc3339(message.created_at),
            }
            for message in row.messages
        ],
        "createdAt": format_rfc3339(row.created_at),
        "updatedAt": format_rfc3339(row.updated_at),
    }


def _ticket(session: Session, caller: User, ticket_id: str) -> SupportTicket:
    try:
        key = str(uuid.UUID(ticket_id.strip()))
    except ValueError:
        key = ""
    row = session.get(SupportTicket, key) if key else None
    if row is None or (row.user_id != caller.id and not is_admin(caller)):
        raise ApiError(404, f"no such ticket: {ticket_id}", "ticket_not_found")
    return row


def _add_message(row: SupportTicket, author: User, content: str) -> None:
    if len(row.messages) >= MAX_MESSAGES:
        raise ApiError(409, f"a ticket holds at most {MAX_MESSAGES} messages; open a new one", "ticket_full")
    row.messages.append(
        TicketMessage(user_id=author.id, user_name=author.email, user_role=author.role, content=content)
    )
    row.updated_at = utcnow()


@router.get("/v1/support/tickets")
def list_tickets(
    user: CurrentUser,
    session: DbSession,
    userId: UserIdQuery = None,
    status: ShortText | None = None,
    page: PageNumberQuery = 1,
    size: PageSizeQuery = 50,
) -> dict[str, Any]:
    """The caller's tickets, newest first (admins: any user's with `userId`)."""
    conditions: list[Any] = [SupportTicket.user_id == resolve_user_id(user, userId)]
    if status and status.strip():
        conditions.append(SupportTicket.status == status.strip().upper())
    total = session.scalar(select(func.count()).select_from(SupportTicket).where(*conditions)) or 0
    rows = session.scalars(
        select(SupportTicket)
        .where(*conditions)
        .order_by(SupportTicket.created_at.desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return {
        "tickets": [ticket_record(row, {}) for row in rows],
        "page": page,
        "size": size,
        "total": str(total),
    }


@router.post("/v1/support/tickets")
def create_ticket(body: CreateTicketBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    target = resolve_user_id(user, body.userId)
    row = SupportTicket(
        user_id=target, subject=body.subject.strip(), ticket_type=body.type or "TICKET_TYPE_GENERAL"
    )
    session.add(row)
    _add_message(row, user, body.message)
    session.commit()
    return {"ticket": ticket_record(row, {})}


@router.get("/v1/support/tickets/{ticket_id}")
def get_ticket(ticket_id: str, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    return {"ticket": ticket_record(_ticket(session, user, ticket_id), {})}


@router.post("/v1/support/tickets/{ticket_id}/messages")
def add_ticket_message(
    ticket_id: str, body: TicketMessageBody, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """Append a message; an admin's answer marks the ticket ANSWERED, a user's re-opens it."""
    row = _ticket(session, user, ticket_id)
    content = body.message if isinstance(body.message, str) else body.message.get("content")
    if not isinstance(content, str) or not content.strip() or "\x00" in content or len(content) > 4000:
        raise ApiError(400, "message: a non-empty text of at most 4000 characters", "invalid_message")
    if row.status == CLOSED:
        raise ApiError(409, "this ticket is closed; open a new one", "ticket_closed")
    _add_message(row, user, content)
    row.status = ANSWERED if is_admin(user) and user.id != row.user_id else OPEN
    session.commit()
    return {"ticket": ticket_record(row, {})}


@router.delete("/v1/support/tickets/{ticket_id}")
def close_ticket(
    ticket_id: str, user: CurrentUser, session: DbSession, userId: UserIdQuery = None
) -> dict[str, Any]:
    resolve_user_id(user, userId)
    row = _ticket(session, user, ticket_id)
    row.status = CLOSED
    row.updated_at = utcnow()
    session.commit()
    return {"ticket": ticket_record(row, {})}


@router.post("/v1/support/reserved-deployments")
def submit_reserved_deployment(body: ReservedBody, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Store a reserved-capacity request for the operator; answered with `tm admin reserved-deployments`."""
    form = {name: str(getattr(body, name)) for name in RESERVED_FIELDS}
    if not any(value.strip() for value in form.values()):
        raise ApiError(400, "a reserved deployment request needs at least one filled field", "empty_request")
    row = ReservedDeploymentRequest(user_id=user.id, form=form)
    session.add(row)
    session.commit()
    return {"requestId": row.id}


def reserved_record(row: ReservedDeploymentRequest) -> dict[str, Any]:
    return {
        "requestId": row.id,
        "userId": row.user_id,
        "status": row.status,
        "answer": row.answer,
        "request": dict(row.form or {}),
        "createdAt": format_rfc3339(row.created_at),
        "updatedAt": format_rfc3339(row.updated_at),
    }


@router.get("/v1/admin/support/tickets", tags=["admin"])
def admin_list_tickets(
    admin: AdminUser,
    session: DbSession,
    status: ShortText | None = None,
    page: PageNumberQuery = 1,
    size: PageSizeQuery = 50,
) -> dict[str, Any]:
    """Every user's tickets, newest first (open ones with `status=TICKET_STATUS_OPEN`)."""
    conditions: list[Any] = []
    if status and status.strip():
        conditions.append(SupportTicket.status == status.strip().upper())
    total = session.scalar(select(func.count()).select_from(SupportTicket).where(*conditions)) or 0
    rows = session.scalars(
        select(SupportTicket)
        .where(*conditions)
        .order_by(SupportTicket.created_at.desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return {
        "tickets": [ticket_record(row, {}) for row in rows],
        "page": page,
        "size": size,
        "total": str(total),
    }


@router.get("/v1/admin/support/reserved-deployments", tags=["admin"])
def admin_list_reserved(
    admin: AdminUser,
    session: DbSession,
    page: PageNumberQuery = 1,
    size: PageSizeQuery = 50,
) -> dict[str, Any]:
    total = session.scalar(select(func.count()).select_from(ReservedDeploymentRequest)) or 0
    rows = session.scalars(
        select(ReservedDeploymentRequest)
        .order_by(ReservedDeploymentRequest.created_at.desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return {
        "requests": [reserved_record(row) for row in rows],
        "page": page,
        "size": size,
        "total": int(total),
    }


@router.post("/v1/admin/support/reserved-deployments/{request_id}:answer", tags=["admin"])
def admin_answer_reserved(
    request_id: str, body: AnswerBody, admin: AdminUser, session: DbSession
) -> dict[str, Any]:
    try:
        row = session.get(ReservedDeploymentRequest, str(uuid.UUID(request_id.strip())))
    except ValueError:
        row = None
    if row is None:
        raise ApiError(404, f"no such reserved deployment request: {request_id}", "request_not_found")
    row.answer = body.answer
    row.status = "REQUEST_STATUS_CLOSED" if body.close else "REQUEST_STATUS_ANSWERED"
    session.commit()
    return {"request": reserved_record(row)}

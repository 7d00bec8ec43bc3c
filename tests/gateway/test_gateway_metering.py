"""UsageRecorder writes in batches, loses nothing on stop, and keeps rows when a write fails."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway_harness import GatewayStore
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from kvmesh.gateway.metering import UsageRecorder, UsageRow, token_counts


def _row(index: int) -> UsageRow:
    return UsageRow(
        request_id=f"r{index}",
        user_id="u",
        api_key_id=None,
        deployment_id=None,
        surface="serverless",
        model="m",
        endpoint="/v1/chat/completions",
        streamed=False,
        prompt_tokens=1,
        completion_tokens=2,
        cached_tokens=0,
        latency_ms=1,
        ttft_ms=None,
        status_code=200,
        cost_micros=0,
        created_at=datetime.now(UTC),
    )


async def test_stop_flushes_everything_pending(store: GatewayStore) -> None:
    recorder = UsageRecorder(store.sessions, flush_interval=3600, batch_size=100)
    recorder.start()
    for index in range(250):
        await recorder.record(_row(index))
    await recorder.stop()
    assert store.usage_count() == 250 and recorder.pending == 0


async def test_failed_write_keeps_rows_for_the_next_flush(store: GatewayStore) -> None:
    broken = sessionmaker(create_engine("sqlite:///file:missing?mode=ro&uri=true"))
    recorder = UsageRecorder(broken, flush_interval=3600, batch_size=100)
    await recorder.record(_row(1))
    await recorder.flush()
    assert recorder.pending == 1
    recorder._sessions = store.sessions
    await recorder.flush()
    assert store.usage_count() == 1


def test_token_counts_read_chat_and_responses_shapes() -> None:
    chat = token_counts(
        {"prompt_tokens": 5, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 2}}
    )
    assert chat is not None and (chat.prompt_tokens, chat.completion_tokens, chat.cached_tokens) == (5, 3, 2)
    responses = token_counts(
        {"input_tokens": 4, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 1}}
    )
    assert responses is not None and (responses.prompt_tokens, responses.completion_tokens) == (4, 1)
    assert token_counts(None) is None


async def test_each_written_batch_updates_the_daily_rollup_in_the_same_transaction(
    store: GatewayStore,
) -> None:
    from sqlalchemy import func, select

    from kvmesh.store.models import UsageDailyRollup

    recorder = UsageRecorder(store.sessions, flush_interval=3600, batch_size=100)
    for index in range(150):
        await recorder.record(_row(index))
    await recorder.flush()
    with store.sessions() as session:
        requests, completion = session.execute(
            select(func.sum(UsageDailyRollup.requests), func.sum(UsageDailyRollup.completion_tokens))
        ).one()
    assert (requests, completion) == (150, 300) and store.usage_count() == 150


def test_a_replayed_batch_adds_to_the_rollup_only_what_it_inserts(store: GatewayStore) -> None:
    """A spool replayed after a crash holds rows already stored: neither the raw rows nor the daily
    rollup may count them twice (write_usage_records passes only the inserted rows to the rollup)."""
    from dataclasses import replace

    from sqlalchemy import func, select

    from kvmesh.gateway.metering import write_usage_records
    from kvmesh.store.models import UsageDailyRollup

    rows = [replace(_row(index), usage_key=f"k{index}").as_columns() for index in range(4)]
    with store.sessions() as session, session.begin():
        assert len(write_usage_records(session, rows[:3])) == 3
    with store.sessions() as session, session.begin():
        assert [row["usage_key"] for row in write_usage_records(session, rows + rows)] == ["k3"]
    with store.sessions() as session:
        requests = session.scalar(select(func.sum(UsageDailyRollup.requests)))
    assert requests == 4 and store.usage_count() == 4

"""A deployment's recent log lines: its replicas' engine log files plus its lifecycle events.

Engine processes append to `<data_dir>/engines/<deployment id>/replica-<n>.log`; each launch
starts with a `--- <UTC time> <argv>` line, and the lines after it carry that launch time (engine
output has no timestamps of its own). Lifecycle events (`deployment_events`) carry their own time.
Only the last `TAIL_BYTES` of each file are read, so a large log never slows a request down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kvmesh.controlplane.rfc3339 import format_rfc3339
from kvmesh.store.models import Deployment

TAIL_BYTES = 256 * 1024
_LAUNCH = re.compile(r"^--- (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ")


@dataclass(frozen=True)
class LogLine:
    moment: datetime
    message: str
    source: str  # "replica-0", "events"
    offset: int  # position within its source, keeps equal lines apart when a client de-duplicates

    def as_wire(self) -> dict[str, object]:
        return {
            "timestamp": format_rfc3339(self.moment),
            "message": self.message,
            "source": self.source,
            "offset": self.offset,
        }


def _file_lines(path: Path) -> list[LogLine]:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        start = max(0, size - TAIL_BYTES)
        handle.seek(start)
        data = handle.read().decode(errors="replace")
    lines = data.splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first line is cut
    fallback = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    moment: datetime | None = None
    out: list[LogLine] = []
    pending: list[tuple[int, str]] = []
    for number, text in enumerate(lines):
        match = _LAUNCH.match(text)
        if match:
            moment = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if not text.strip():
            continue
        if moment is None:
            pending.append((number, text))  # lines before the first visible launch header
        else:
            out.append(LogLine(moment, text, path.stem, start + number))
    first = out[0].moment if out else fallback
    return [LogLine(first, text, path.stem, start + n) for n, text in pending] + out


def deployment_log_lines(engines_dir: Path, deployment: Deployment) -> list[LogLine]:
    """Every visible line of the deployment, oldest first (stable order for equal times)."""
    lines = [
        LogLine(event.created_at, f"[{event.event_type}] {event.log}".rstrip(), "events", event.id)
        for event in deployment.events
    ]
    folder = engines_dir / deployment.id
    if folder.is_dir():
        for path in sorted(folder.glob("replica-*.log")):
            lines.extend(_file_lines(path))
    return sorted(lines, key=lambda line: (line.moment, line.source, line.offset))

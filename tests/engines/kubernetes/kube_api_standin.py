"""An in-process Kubernetes API server stand-in that speaks the real wire protocol over HTTP.

It is what the provider's tests drive the real `lightkube` client against, because no cluster can run
on these machines. It implements the parts of the API the provider uses, as the API server does them:

- REST paths for core/v1 (pods, services, events, pods/log) and apps/v1 deployments,
  coordination.k8s.io/v1 leases; JSON bodies; `Status` error objects (404 NotFound, 409 AlreadyExists
  and Conflict, 422 Invalid for a malformed body).
- A cluster-wide resourceVersion; list responses carry it; create/replace/merge-patch/apply-patch/delete.
- Watch streams (`?watch=true`, chunked JSON lines): from a resourceVersion (events after it), or from
  now with synthetic ADDED events; label selectors filtered the way the watch cache does (an object
  that stops matching arrives as DELETED, one that starts matching as ADDED); `timeoutSeconds`; a
  resourceVersion older than the retained history answers an `ERROR` event with a 410 Expired Status.
- The part of the cluster the provider relies on but does not call: a ReplicaSet-controller stand-in
  that creates and removes pods to match each Deployment's `spec.replicas` (pods start Pending
  without an IP), and garbage collection of a deleted Deployment's pods.

Test controls change pods as a kubelet or the scheduler would (ready, not ready, terminating,
evicted, relabelled, deleted), compact the history (410 on resume), drop every open watch, and stop
or restart the listener (API server unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

Obj = dict[str, Any]

KINDS: dict[str, tuple[str, str]] = {  # plural -> (apiVersion, kind)
    "pods": ("v1", "Pod"),
    "services": ("v1", "Service"),
    "events": ("v1", "Event"),
    "deployments": ("apps/v1", "Deployment"),
    "leases": ("coordination.k8s.io/v1", "Lease"),
}
PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[a-z0-9.]+)/(?P<version>v[0-9a-z]+))"
    r"/namespaces/(?P<ns>[a-z0-9-]+)/(?P<plural>[a-z]+)(?:/(?P<name>[a-z0-9.-]+))?(?:/(?P<sub>[a-z]+))?$"
)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code: int, reason: str, message: str) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def respond(body: Obj, status: int = 200) -> web.Response:
    """JSON exactly as the API server sends it (`Content-Type: application/json`, no charset)."""
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def error(code: int, reason: str, message: str) -> web.Response:
    return respond(status_body(code, reason, message), code)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (what the provider's merge/strategic patches of scalar fields need)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """Equality-based and set-based label selectors (`a=b`, `a!=b`, `a`, `!a`, `a in (x,y)`)."""
    for term in re.split(r",(?![^()]*\))", selector):
        term = term.strip()
        if not term:
            continue
        if match := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term):
            values = {v.strip() for v in match.group(3).split(",")}
            inside = labels.get(match.group(1)) in values
            if inside != (match.group(2) == "in"):
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_value(obj: Obj, path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def fields_match(selector: str, obj: Obj) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, value = term.replace("==", "=").split("=", 1)
        if str(field_value(obj, key) or "") != value:
            return False
    return True


@dataclass
class WatchEvent:
    rv: int
    plural: str
    namespace: str
    type: str
    obj: Obj
    previous: Obj | None


@dataclass
class KubeApiStandIn:
    """The stand-in API server; `url` is its base once `start()` has run."""

    host: str = "127.0.0.1"
    port: int = 0
    objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)
    history: list[WatchEvent] = field(default_factory=list)
    pod_logs: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # method, path, watch
    rv: int = 100
    compacted_rv: int = 0

    def __post_init__(self) -> None:
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._streams: set[web.StreamResponse] = set()
        self._generation = 0

    # ---- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Stop listening and cut every open connection (the API server is unreachable until `start`)."""
        await self.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def drop_watches(self) -> None:
        """End every open watch stream without an error event (a proxy timing out, a restart)."""
        self._generation += 1
        async with self._changed:
            self._changed.notify_all()
        await asyncio.sleep(0.05)

    def compact(self) -> None:
        """Forget the watch history: resuming from any resourceVersion seen so far now answers 410 Gone.

        The revision moves on first, as it does in a real cluster, where writes to other objects advance it.
        """
        self.rv += 1
        self.history.clear()
        self.compacted_rv = self.rv

    def kubeconfig(self, namespace: str) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "standin", "user": {"token": "standin-token"}}],
            "contexts": [
                {
                    "name": "standin",
                    "context": {"cluster": "standin", "user": "standin", "namespace": namespace},
                }
            ],
            "current-context": "standin",
        }

    # ---- what a kubelet, the scheduler or an operator would do to pods ------------------------------
    def pods(self, namespace: str, selector: str = "") -> list[Obj]:
        return [
            obj
            for (plural, ns, _), obj in sorted(self.objects.items())
            if plural == "pods" and ns == namespace and selector_matches(selector, obj["metadata"]["labels"])
        ]

    async def set_pod_ready(self, namespace: str, name: str, ip: str, ready: bool = True) -> None:
        conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
        status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "conditions": conditions}
        await self._mutate("pods", namespace, name, lambda pod: pod.update(status=status))

    async def terminate_pod(self, namespace: str, name: str) -> None:
        """The first step of a graceful delete: deletionTimestamp set, the pod still exists (and is Ready)."""

        def mark(pod: Obj) -> None:
            pod["metadata"]["deletionTimestamp"] = now_rfc3339()
            pod["metadata"]["deletionGracePeriodSeconds"] = 30

        await self._mutate("pods", namespace, name, mark)

    async def evict_pod(self, namespace: str, name: str) -> None:
        """A kubelet eviction: phase Failed, reason Evicted, no IP any more; the pod object stays."""
        status = {
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory.",
            "conditions": [{"type": "Ready", "status": "False"}],
        }
        await self._mutate("pods", namespace, name, lambda pod: pod.update(status=status))

    async def relabel_pod(self, namespace: str, name: str, labels: dict[str, str]) -> None:
        await self._mutate("pods", namespace, name, lambda pod: pod["metadata"].update(labels=labels))

    async def delete_pod(self, namespace: str, name: str) -> None:
        async with self._changed:
            self._delete("pods", namespace, name)
            self._changed.notify_all()

    def add_event(self, namespace: str, pod: str, reason: str, message: str, kind: str = "Normal") -> None:
        name = f"{pod}.{secrets.token_hex(4)}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": namespace},
            "reason": reason,
            "message": message,
            "type": kind,
            "count": 1,
            "lastTimestamp": now_rfc3339(),
        }
        self._store("events", namespace, event, "ADDED", None)

    # ---- storage and events ------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _store(self, plural: str, namespace: str, obj: Obj, kind: str, previous: Obj | None) -> Obj:
        obj["metadata"]["resourceVersion"] = self._next_rv()
        obj["metadata"]["namespace"] = namespace
        key = (plural, namespace, obj["metadata"]["name"])
        if kind == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        self.history.append(WatchEvent(self.rv, plural, namespace, kind, copy.deepcopy(obj), previous))
        if plural == "deployments":
            self._sync_replicaset(namespace, None if kind == "DELETED" else obj, obj["metadata"]["name"])
        return obj

    def _delete(self, plural: str, namespace: str, name: str) -> Obj | None:
        obj = self.objects.get((plural, namespace, name))
        if obj is None:
            return None
        return self._store(plural, namespace, copy.deepcopy(obj), "DELETED", copy.deepcopy(obj))

    async def _mutate(self, plural: str, namespace: str, name: str, change: Callable[[Obj], None]) -> None:
        async with self._changed:
            current = self.objects[(plural, namespace, name)]
            previous = copy.deepcopy(current)
            updated = copy.deepcopy(current)
            change(updated)
            self._store(plural, namespace, updated, "MODIFIED", previous)
            self._changed.notify_all()

    def _sync_replicaset(self, namespace: str, deployment: Obj | None, name: str) -> None:
        """Create or remove pods so a Deployment has spec.replicas live pods (all of them when deleted)."""
        owned = [
            pod
            for (plural, ns, _), pod in list(self.objects.items())
            if plural == "pods"
            and ns == namespace
            and any(ref.get("name") == name for ref in pod["metadata"].get("ownerReferences", []))
            and not pod["metadata"].get("deletionTimestamp")
        ]
        wanted = 0 if deployment is None else int(deployment["spec"].get("replicas", 1))
        for pod in owned[wanted:]:
            self._delete("pods", namespace, pod["metadata"]["name"])
        template = {} if deployment is None else deployment["spec"]["template"]
        owner_uid = "" if deployment is None else deployment["metadata"]["uid"]
        for _ in range(wanted - len(owned)):
            pod_name = f"{name}-{secrets.token_hex(3)}"
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod_name,
                    "uid": str(uuid.uuid4()),
                    "labels": dict(template["metadata"]["labels"]),
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": name,
                            "uid": owner_uid,
                            "controller": True,
                        }
                    ],
                    "creationTimestamp": now_rfc3339(),
                },
                "spec": copy.deepcopy(template["spec"]),
                "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]},
            }
            self._store("pods", namespace, pod, "ADDED", None)

    # ---- HTTP --------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, request.query.get("watch") in ("true", "1")))
        match = PATH.match(request.path)
        if match is None or match["plural"] not in KINDS:
            return error(404, "NotFound", f"the server could not find the requested resource {request.path}")
        plural, namespace, name, sub = match["plural"], match["ns"], match["name"], match["sub"]
        if request.method == "GET" and name is None and request.query.get("watch") in ("true", "1"):
            return await self._watch(request, plural, namespace)
        if request.method == "GET" and name is None:
            return self._list(request, plural, namespace)
        if request.method == "POST" and name is None:
            return await self._create(request, plural, namespace)
        if name is None:
            return error(405, "MethodNotAllowed", f"{request.method} is not supported on a collection")
        current = self.objects.get((plural, namespace, name))
        if request.method == "GET" and sub == "log" and plural == "pods":
            if current is None:
                return error(404, "NotFound", f'pods "{name}" not found')
            lines = self.pod_logs.get(name, "").splitlines()
            tail = int(request.query.get("tailLines") or 0)
            text = "\n".join(lines[-tail:] if tail else lines)
            return web.Response(text=text + ("\n" if text else ""), content_type="text/plain")
        if request.method == "GET":
            if current is None:
                return error(404, "NotFound", f'{plural} "{name}" not found')
            return respond(current)
        if request.method == "DELETE":
            async with self._changed:
                deleted = self._delete(plural, namespace, name)
                self._changed.notify_all()
            if deleted is None:
                return error(404, "NotFound", f'{plural} "{name}" not found')
            return respond(deleted)
        if request.method in ("PUT", "PATCH"):
            return await self._update(request, plural, namespace, name, current)
        return error(405, "MethodNotAllowed", f"{request.method} is not supported")

    def _list(self, request: web.Request, plural: str, namespace: str) -> web.Response:
        labels = request.query.get("labelSelector", "")
        fields = request.query.get("fieldSelector", "")
        items = [
            obj
            for (p, ns, _), obj in sorted(self.objects.items())
            if p == plural
            and ns == namespace
            and selector_matches(labels, obj["metadata"].get("labels") or {})
            and fields_match(fields, obj)
        ]
        api_version, kind = KINDS[plural]
        body = {
            "apiVersion": api_version,
            "kind": f"{kind}List",
            "metadata": {"resourceVersion": str(self.rv)},
        }
        return respond({**body, "items": items})

    async def _body(self, request: web.Request) -> Obj | None:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _create(self, request: web.Request, plural: str, namespace: str) -> web.Response:
        obj = await self._body(request)
        if obj is None or not isinstance(obj.get("metadata"), dict) or not obj["metadata"].get("name"):
            return error(422, "Invalid", "metadata.name: Required value")
        name = obj["metadata"]["name"]
        async with self._changed:
            if (plural, namespace, name) in self.objects:
                return error(409, "AlreadyExists", f'{plural} "{name}" already exists')
            obj["metadata"].setdefault("uid", str(uuid.uuid4()))
            obj["metadata"].setdefault("creationTimestamp", now_rfc3339())
            obj["metadata"].setdefault("labels", {})
            stored = self._store(plural, namespace, obj, "ADDED", None)
            self._changed.notify_all()
        return respond(stored, 201)

    async def _update(
        self, request: web.Request, plural: str, namespace: str, name: str, current: Obj | None
    ) -> web.Response:
        body = await self._body(request)
        if body is None:
            return error(422, "Invalid", "the body is not a JSON object")
        apply = "apply-patch" in request.content_type
        if current is None and not apply:
            return error(404, "NotFound", f'{plural} "{name}" not found')
        async with self._changed:
            if current is None:
                body.setdefault("metadata", {})["name"] = name
                body["metadata"].setdefault("uid", str(uuid.uuid4()))
                stored = self._store(plural, namespace, body, "ADDED", None)
                self._changed.notify_all()
                return respond(stored, 201)
            if request.method == "PUT":
                expected = (body.get("metadata") or {}).get("resourceVersion")
                if expected and expected != current["metadata"]["resourceVersion"]:
                    message = "the object has been modified; please apply your changes to the latest version"
                    return error(409, "Conflict", message)
                updated = body
                updated["metadata"]["uid"] = current["metadata"]["uid"]
            else:
                updated = merge_patch(current, body)
            stored = self._store(plural, namespace, updated, "MODIFIED", copy.deepcopy(current))
            self._changed.notify_all()
        return respond(stored)

    async def _watch(self, request: web.Request, plural: str, namespace: str) -> web.StreamResponse:
        selector = request.query.get("labelSelector", "")
        fields = request.query.get("fieldSelector", "")
        timeout = float(request.query.get("timeoutSeconds") or 1800)
        since = request.query.get("resourceVersion", "")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self._streams.add(response)
        generation = self._generation

        def visible(obj: Obj | None) -> bool:
            if obj is None:
                return False
            return selector_matches(selector, obj["metadata"].get("labels") or {}) and fields_match(
                fields, obj
            )

        async def send(kind: str, obj: Obj) -> None:
            await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

        try:
            if since in ("", "0"):
                position = self.rv
                for (p, ns, _), obj in sorted(self.objects.items()):
                    if p == plural and ns == namespace and visible(obj):
                        await send("ADDED", obj)
            else:
                position = int(since)
                if position < self.compacted_rv:
                    message = f"too old resource version: {position} ({self.compacted_rv})"
                    await send("ERROR", status_body(410, "Expired", message))
                    return response
            deadline = asyncio.get_running_loop().time() + timeout
            while generation == self._generation:
                for event in [e for e in self.history if e.rv > position]:
                    position = event.rv
                    if event.plural != plural or event.namespace != namespace:
                        continue
                    now, before = visible(event.obj), visible(event.previous)
                    if event.type == "DELETED" and before:
                        await send("DELETED", event.obj)
                    elif event.type != "DELETED" and now and before:
                        await send(event.type, event.obj)
                    elif event.type != "DELETED" and now:
                        await send("ADDED", event.obj)
                    elif event.type != "DELETED" and before:
                        await send("DELETED", event.obj)
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                async with self._changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 1.0))
        except ConnectionResetError:
            pass
        finally:
            self._streams.discard(response)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

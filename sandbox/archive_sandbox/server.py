"""The HTTP face of the sandbox: Kubernetes REST paths on aiohttp, over `Store`.

    server = SandboxServer(Store())
    url = await server.start(port=0)        # 127.0.0.1, free port
    ...
    await server.stop()

`register_subresource(group, plural, name, handler)` plugs in subresources served outside the
store (e.g. `pods/log` by the local kubelet); a handler is
`async (request, rt, namespace, name) -> aiohttp.web.StreamResponse`.

Every answer's `Date` header is the sandbox clock's time (`store.now`), not aiohttp's real
time: kube-apiserver's Date is its own clock, and clients learn the cluster's time from it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from aiohttp import web

from . import errors as err
from . import nonresource, protobuf, tables
from .auth import Users
from .clock import http_date
from .faults import Fault, FaultInjector, fault_extra
from .gate import RequestGate
from .meta import rfc3339
from .requestlog import RequestLog, RequestRecord
from .resources import ResourceType
from .responses import error_response, json_response, truthy, wants_table
from .routing import RequestInfo, parse_request
from .store import PATCH_TYPES, Store
from .watchstream import EventLines, serve_watch

log = logging.getLogger(__name__)

SubresourceHandler = Callable[[web.Request, ResourceType, str, str], Awaitable[web.StreamResponse]]
SEQ_KEY = web.RequestKey("sandbox_seq", int)
USER_KEY = web.RequestKey("sandbox_user", tuple)
LOGGED_KEY = web.RequestKey("sandbox_logged", bool)
FAULT_KEY = web.RequestKey("sandbox_fault", Fault)


class SandboxServer:
    def __init__(
        self,
        store: Store,
        *,
        users: Users | None = None,
        request_log: RequestLog | None = None,
        bookmark_interval: float = 5.0,
    ) -> None:
        self.store = store
        self.users = users or Users()
        self.requests = request_log or RequestLog()
        self.faults = FaultInjector()  # off until configured (faults.py)
        self.gate = RequestGate()  # holds one request at an exact point when armed (gate.py)
        self.bookmark_interval = bookmark_interval
        self.event_lines = EventLines()  # watch events encoded once for all streams
        self._subresources: dict[tuple[str, str, str], SubresourceHandler] = {}
        self._runner: web.AppRunner | None = None
        self.stopping = asyncio.Event()
        self.url = ""
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.app.on_response_prepare.append(self._date_header)

    def register_subresource(
        self, group: str, plural: str, name: str, handler: SubresourceHandler
    ) -> None:
        self._subresources[(group, plural, name)] = handler

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        await self.store.start()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        self.stopping.set()
        await self.store.stop()
        if self._runner:
            await self._runner.cleanup()

    async def _date_header(self, _request: web.Request, response: web.StreamResponse) -> None:
        """The sandbox clock's time (read now: `Workloads` installs its clock as `store.now`)
        in place of the real time aiohttp would add; watch streams get it when they start."""
        response.headers["Date"] = http_date(self.store.now())

    # --- dispatch ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.rstrip("/") == "/sandbox/faults":
            return await self.faults.endpoint(request)
        if path.startswith("/sandbox/"):
            return await nonresource.sandbox_endpoint(self.store, self.requests, request)
        info = parse_request(request.method, path, truthy(request.query.get("watch")))
        request[SEQ_KEY] = self.requests.next_seq()
        request[USER_KEY] = ("", ())
        code = 500
        try:
            user = self.users.authenticate(
                request.headers.get("Authorization"),
                request.headers.get("Impersonate-User"),
                tuple(request.headers.getall("Impersonate-Group", [])),
            )
            request[USER_KEY] = (user.name, user.groups)
            fault = self.faults.decide(info, path, user.name)
            if fault is not None:
                request[FAULT_KEY] = fault
                response = await self.faults.apply(
                    fault, request, info, lambda: self._dispatch(request, info)
                )
            else:
                response = await self.gate.pass_through(
                    request, info, user.name, lambda: self._dispatch(request, info)
                )
            code = response.status
            return response
        except err.ApiError as e:
            code = e.code
            return error_response(e)
        except Exception as e:
            log.exception("sandbox: %s %s failed", request.method, path)
            code = 500
            return error_response(
                err.ApiError(500, "InternalError", f"Internal error occurred: {e}")
            )
        finally:
            self.record(request, info, code)

    def record(self, request: web.Request, info: RequestInfo, code: int) -> None:
        """Log a request once: watches when their stream starts, the rest when answered."""
        if request.get(LOGGED_KEY):
            return
        request[LOGGED_KEY] = True
        user_name, groups = request[USER_KEY]
        self.requests.append(
            RequestRecord(
                seq=request[SEQ_KEY],
                time=rfc3339(self.store.now()),
                user=user_name,
                groups=tuple(groups),
                user_agent=request.headers.get("User-Agent", ""),
                method=request.method,
                path=request.path,
                query=request.query_string,
                verb=info.verb,
                api_group=info.group,
                api_version=info.version,
                resource=info.resource,
                subresource=info.subresource,
                namespace=info.namespace,
                name=info.name,
                code=code,
                is_resource=info.is_resource,
                extra=fault_extra(request.get(FAULT_KEY)),
            )
        )

    async def _dispatch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if not info.is_resource:
            return await nonresource.answer(self.store, request, path, info)
        rt = self.store.registry.get(info.group, info.version, info.resource)
        if rt is None:
            raise err.ApiError(404, "NotFound", "the server could not find the requested resource")
        if info.namespace and not rt.namespaced and info.resource != "namespaces":
            raise err.ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = info.namespace if rt.namespaced else ""
        if info.subresource:
            handler = self._subresources.get((rt.group, rt.plural, info.subresource))
            if handler is not None:
                return await handler(request, rt, namespace, info.name)
            if info.subresource not in rt.subresources or info.subresource != "status":
                if info.subresource == "log" and "log" in rt.subresources:
                    raise err.bad_request(
                        f'pod "{info.name}" has no running containers: '
                        "no kubelet serves logs in this sandbox"
                    )
                raise err.ApiError(
                    404, "NotFound", "the server could not find the requested resource"
                )
        handler_for_verb = {
            "get": self._get,
            "list": self._list,
            "watch": self._watch,
            "create": self._create,
            "update": self._update,
            "patch": self._patch,
            "delete": self._delete,
            "deletecollection": self._delete_collection,
        }.get(info.verb)
        if handler_for_verb is None:
            raise err.method_not_allowed()
        return await handler_for_verb(request, rt, namespace, info)

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    async def _body(request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        ctype = request.content_type
        if "protobuf" in ctype:
            return protobuf.decode(raw)
        if "cbor" in ctype:  # client-go falls back to JSON when the server refuses CBOR
            raise err.unsupported_media_type(ctype, ["application/json", "application/yaml"])
        try:
            if "yaml" in ctype:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise err.bad_request(f"the request body could not be decoded: {e}") from None

    def _table(
        self,
        request: web.Request,
        rt: ResourceType,
        objs: list[dict[str, Any]],
        list_meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return tables.table(
            rt,
            objs,
            self.store.custom.version_spec(rt) if rt.custom else None,
            self.store.now(),
            include_object=request.query.get("includeObject", "Metadata"),
            list_meta=list_meta,
        )

    @staticmethod
    def _write_options(request: web.Request) -> dict[str, Any]:
        q = request.query
        return {
            "dry_run": q.get("dryRun") == "All",
            "field_manager": q.get("fieldManager")
            or request.headers.get("User-Agent", "unknown").split("/")[0],
            "field_validation": q.get("fieldValidation") or "Warn",
        }

    # --- verbs --------------------------------------------------------------------------------

    async def _get(
        self, request: web.Request, rt: ResourceType, ns: str, info: RequestInfo
    ) -> web.StreamResponse:
        obj = await self.store.get(rt, ns, info.name)
        if wants_table(request):
            return json_response(self._table(request, rt, [obj]))
        return json_response(obj)

    async def _list(
        self, request: web.Request, rt: ResourceType, ns: str, info: RequestInfo
    ) -> web.StreamResponse:
        q = request.query
        limit = int(q["limit"]) if q.get("limit", "").isdigit() else None
        result = await self.store.list(
            rt,
            ns or None,
            label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"),
            limit=limit,
            continue_token=q.get("continue"),
        )
        if wants_table(request):
            full = [self.store.view(rt, o) if "kind" not in o else o for o in result["items"]]
            return json_response(self._table(request, rt, full, result["metadata"]))
        return json_response(result)

    async def _create(
        self, request: web.Request, rt: ResourceType, ns: str, info: RequestInfo
    ) -> web.StreamResponse:
        if info.name:
            raise err.method_not_allowed()
        warnings: list[str] = []
        obj = await self.store.create(
            rt, ns, await self._body(request), warnings=warnings, **self._write_options(request)
        )
        return json_response(obj, 201, warnings)

    async def _update(
        self, request: web.Request, rt: ResourceType, ns: str, info: RequestInfo
    ) -> web.StreamResponse:
        if not info.name:
            raise err.method_not_allowed()
        warnings: list[str] = []
        obj = await self.store.update(
            rt,
            ns,
            info.name,
            await self._body(request),
            subresource=info.subresource or None,
            warnings=warnings,
            **self._write_options(request),
        )
        return json_response(obj, 200, warnings)

    async def _patch(
        self, request: web.Request, rt: ResourceType, ns: str, info: RequestInfo
    ) -> web.StreamResponse:
        if not info.name:
            raise err.method_not_allowed()
        ctype = request.content_type
        patch_type = PATCH_TYPES.get(ctype)
        if patch_type is None:
            raise err.unsupported_media_type(ctype, list(PATCH_TYPES))
        existed = (
            self.store.peek(rt.storage_key, ns if rt.namespaced else "", info.name) is not None
        )
        warnings: list[str] = []
        options = self._write_options(request)
        if patch_type == "apply":  # server-side apply needs an explicit manager
            options["field_manager"] = request.query.get("fieldManager")
        obj = await self.store.patch(
            rt,
            ns,
            info.name,
            patch_type,
            await self._body(request),
            subresource=info.subresource or None,
            force=truthy(request.query.get("force")),
            warnings=warnings,
            **options,
        )
        return json_response(obj, 200 if existed else 201, warnings)

    def _delete_options(self, request: web.Request, body: Any) -> dict[str, Any]:
        opts = body if isinstance(body, dict) else {}
        q = request.query
        policy = opts.get("propagationPolicy") or q.get("propagationPolicy")
        if policy is None and (
            opts.get("orphanDependents") is not None or q.get("orphanDependents")
        ):
            orphan = opts.get("orphanDependents")
            orphan = truthy(q.get("orphanDependents")) if orphan is None else orphan
            policy = "Orphan" if orphan else "Background"
        dry = opts.get("dryRun") or ([q["dryRun"]] if q.get("dryRun") else [])
        return {
            "propagation_policy": policy,
            "dry_run": "All" in dry,
            "preconditions": opts.get("preconditions"),
        }

    async def _delete(
        self, request: web.Request, rt: ResourceType, ns: str, info: RequestInfo
    ) -> web.StreamResponse:
        if info.subresource:
            raise err.method_not_allowed()
        opts = self._delete_options(request, await self._body(request))
        obj, _deleted_now = await self.store.delete(rt, ns, info.name, **opts)
        return json_response(obj, 200)  # Kubernetes answers 202 only for orphanDependents=false

    async def _delete_collection(
        self, request: web.Request, rt: ResourceType, ns: str, info: RequestInfo
    ) -> web.StreamResponse:
        opts = self._delete_options(request, await self._body(request))
        q = request.query
        result = await self.store.delete_collection(
            rt,
            ns or None,
            label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"),
            propagation_policy=opts["propagation_policy"],
            dry_run=opts["dry_run"],
        )
        return json_response(result)

    async def _watch(
        self, request: web.Request, rt: ResourceType, ns: str, info: RequestInfo
    ) -> web.StreamResponse:
        return await serve_watch(self, request, rt, ns, info)

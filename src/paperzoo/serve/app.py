"""``create_app(config)``: the paperzoo web app (FastAPI) -- a JSON API and one plain HTML/JS page.

Panels: G2P (S4), chat with the dialogue agents (S6), image search over a retrieval index (S8) or a
binary hash index (S7), network classification (S9) and a segmentation viewer (S10). A panel whose
system is not available (not importable, no model path given, a model that fails to load) is left out:
its routes do not exist and ``GET /api/systems`` says why. Models load once, here, at start-up.

Limits, all in `ServeConfig`: request body size (413), words per request and message length (422),
upload type checks (415 / 422), a per-request compute limit (503) and a bounded number of model
calls at once. Every error is JSON ``{"error": "<one line>"}``; an exception inside a handler is a
500 JSON answer and never stops the server.
"""

from __future__ import annotations

import json
import logging
import re
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

import anyio
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import PaperzooError
from .config import ServeConfig
from .systems import (
    ChatService,
    Coalescer,
    G2PService,
    check_image,
    describe_error,
    load_chat_service,
    load_g2p_service,
    load_hash_search_service,
    load_netclass_service,
    load_search_service,
    load_seg3d_service,
)

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("paperzoo.serve")


class AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so any string a client sent (lone surrogates included) can be echoed."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _error(status: int, message: str) -> AsciiJSONResponse:
    return AsciiJSONResponse({"error": message}, status_code=status)


class BodyLimit:
    """ASGI middleware: 413 when a request body (declared or streamed) exceeds the limit for its path."""

    def __init__(self, app, limit_for: Callable[[str], int]):
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _error(400, "Content-Length is not a number")(scope, receive, send)
            if int(declared) > limit:
                return await _error(413, f"request body is {int(declared)} bytes; the limit here is {limit}")(
                    scope, receive, send)
        seen, started = 0, False

        async def limited_receive():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return msg

        async def tracked_send(msg):
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _error(413, f"request body exceeds the limit here ({limit} bytes)")(scope, receive, send)


class _TooLarge(Exception):
    pass


# ------------------------------------------------------------------------------------- request models
class G2PRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: list[str] | None = Field(None, description="words to pronounce")
    text: str | None = Field(None, description="alternatively: pasted text, split at spaces, commas, semicolons")


class G2PResult(BaseModel):
    word: str
    phonemes: list[str] | None
    source: str | None = Field(None, description="lexicon (CMUdict) or model")
    error: str | None = None


class G2PResponse(BaseModel):
    results: list[G2PResult]


class ChatStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field("task", description="task, qa or chat (see /api/systems)")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


class ChatReply(BaseModel):
    session_id: str
    agent: str
    reply: str
    turns: int


def create_app(config: ServeConfig | None = None, *, g2p: Any | None = None,
               agents: Mapping[str, Callable[[], Any]] | None = None) -> FastAPI:
    """The web app. ``g2p`` (an object with ``predict(words)``) and ``agents`` (kind -> agent factory)
    replace the systems' own loaders, e.g. with small fakes in tests."""
    cfg = config or ServeConfig()
    device = cfg.resolved_device()
    panels: dict[str, dict] = {}
    services: dict[str, Any] = {}

    def try_load(name: str, required: bool, loader: Callable[[], Any], **info) -> None:
        try:
            services[name] = loader()
            panels[name] = {"available": True, **info}
        except Exception as e:  # noqa: BLE001 - a panel that cannot load is left out, with the reason
            if required and isinstance(e, PaperzooError):
                raise  # a path the user gave explicitly must work: `paperzoo serve` prints the one-line error
            panels[name] = {"available": False, "reason": describe_error(e)}
            log.warning("panel %s left out: %s", name, panels[name]["reason"])

    # explicit paths first: a bad one fails fast, before the slower default panels load
    for name, path, loader in (("retrieval", cfg.retrieval_index, load_search_service),
                               ("hash", cfg.hash_index, load_hash_search_service)):
        if path is not None:
            try_load(name, True, partial(loader, Path(path), device))
    if cfg.netclass_model is not None:
        try_load("netclass", True, partial(load_netclass_service, Path(cfg.netclass_model)))
    if cfg.seg3d_model is not None:
        try_load("seg3d", True, partial(load_seg3d_service, Path(cfg.seg3d_model), device))
    if g2p is not None:
        try_load("g2p", True, lambda: G2PService(g2p, note="injected G2P"))
    elif cfg.g2p:
        try_load("g2p", cfg.g2p_model is not None, lambda: load_g2p_service(cfg.g2p_model))
    if agents is not None:
        try_load("chat", True, lambda: ChatService(agents, cfg.max_sessions, cfg.session_ttl_s))
    elif cfg.chat:
        try_load("chat", False, lambda: load_chat_service(cfg.max_sessions, cfg.session_ttl_s))
    if "g2p" in services:
        panels["g2p"]["note"] = services["g2p"].note
    if "chat" in services:
        panels["chat"]["agents"] = services["chat"].kinds

    app = FastAPI(title="paperzoo serve", version="1", default_response_class=AsciiJSONResponse,
                  docs_url=None, redoc_url=None,  # Swagger UI would load from a CDN; the schema is /openapi.json
                  description="G2P, dialogue agents, image search, network classification and CT segmentation.")
    app.state.config, app.state.services, app.state.panels = cfg, services, panels
    limiter = anyio.CapacityLimiter(max(1, cfg.max_jobs))

    async def run_job(fn: Callable, *args):
        """``fn(*args)`` in a worker thread, at most ``max_jobs`` at once, within ``request_timeout_s``."""
        try:
            with anyio.fail_after(cfg.request_timeout_s):
                return await anyio.to_thread.run_sync(partial(fn, *args), abandon_on_cancel=True, limiter=limiter)
        except TimeoutError:
            raise HTTPException(503, f"the request took longer than {cfg.request_timeout_s:g} s; send less work "
                                     f"per request") from None

    def limit_for(path: str) -> int:
        if path.startswith("/api/seg3d"):
            return cfg.max_nifti_bytes
        if path.startswith(("/api/search", "/api/netclass")):
            return cfg.max_upload_bytes
        return cfg.max_json_bytes

    app.add_middleware(BodyLimit, limit_for=limit_for)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        msg = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and msg == "Not Found":
            msg = f"no such endpoint: {request.method} {request.url.path} (see /openapi.json)"
        return _error(exc.status_code, msg)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return _error(400, "request body is not valid JSON")
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ()) if x != 'body') or 'body'}: {e.get('msg', 'invalid')}"
                 for e in errs[:5]]
        return _error(422, "; ".join(parts))

    @app.exception_handler(PaperzooError)
    async def _user_error(request: Request, exc: PaperzooError):
        return _error(422, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        log.exception("error in %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); the server keeps running")

    # ------------------------------------------------------------------------------------ page + meta
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/api/systems")
    async def systems() -> dict:
        """Which panels are loaded (and why the others are not), and the request limits."""
        return {"panels": panels, "device": device,
                "limits": {"max_words": cfg.max_words, "max_text_chars": cfg.max_text_chars,
                           "max_json_bytes": cfg.max_json_bytes, "max_upload_bytes": cfg.max_upload_bytes,
                           "max_nifti_bytes": cfg.max_nifti_bytes, "request_timeout_s": cfg.request_timeout_s},
                "g2p_stats": services["g2p"].stats() if "g2p" in services else None}

    # -------------------------------------------------------------------------------------------- G2P
    if "g2p" in services:
        g2p_svc: G2PService = services["g2p"]

        coalescer = Coalescer(partial(run_job, g2p_svc.predict_parts), max_batch=256)

        @app.post("/api/g2p", response_model=G2PResponse)
        async def g2p_endpoint(req: G2PRequest) -> AsciiJSONResponse:
            """ARPAbet (stress-free) per word; a word that cannot be pronounced gets an ``error`` of its own.

            CMUdict words and words pronounced before are answered on the event loop without the model;
            the other words of concurrent requests go to the model together, in one batched call."""
            if (req.words is None) == (req.text is None):
                raise HTTPException(422, "send exactly one of 'words' (a list) or 'text' (a string)")
            words = req.words if req.words is not None else [w for w in re.split(r"[\s,;]+", req.text) if w]
            if not words:
                raise HTTPException(422, "no words given")
            if len(words) > cfg.max_words:
                raise HTTPException(422, f"{len(words)} words; the limit is {cfg.max_words} per request: send batches")
            results, missing = g2p_svc.plan(words)
            if missing:
                try:
                    with anyio.fail_after(cfg.request_timeout_s):
                        phones = await coalescer.get([p for ps in missing.values() for p in ps])
                except TimeoutError:
                    raise HTTPException(503, f"the request took longer than {cfg.request_timeout_s:g} s; "
                                             f"send fewer new words per request") from None
                g2p_svc.fill(results, missing, phones)
            # results are plain dicts of the documented shape: skip re-validating them through the model
            return AsciiJSONResponse({"results": results})

    # ------------------------------------------------------------------------------------------- chat
    if "chat" in services:
        chat_svc: ChatService = services["chat"]

        def _session(sid: str):
            s = chat_svc.store.get(sid)
            if s is None:
                raise HTTPException(404, "unknown or expired session; start a new one with POST /api/chat/sessions")
            return s

        @app.post("/api/chat/sessions", response_model=ChatReply)
        async def chat_start(req: ChatStart) -> dict:
            """Start a conversation with an agent; the reply is its opening line."""
            if req.agent not in chat_svc.factories:
                raise HTTPException(422, f"unknown agent {req.agent[:40]!r}; one of {', '.join(chat_svc.kinds)}")
            s, opening = await run_job(chat_svc.start, req.agent)
            return {"session_id": s.id, "agent": s.kind, "reply": opening, "turns": 0}

        @app.post("/api/chat/sessions/{session_id}/messages", response_model=ChatReply)
        async def chat_message(session_id: str, req: ChatMessage) -> dict:
            """The agent's reply to one user message."""
            if len(req.text) > cfg.max_text_chars:
                raise HTTPException(422, f"message is {len(req.text)} characters; the limit is {cfg.max_text_chars}")
            if not req.text.strip():
                raise HTTPException(422, "message is empty")
            s = _session(session_id)
            reply = await run_job(chat_svc.reply, s, req.text)
            return {"session_id": s.id, "agent": s.kind, "reply": reply, "turns": s.turns}

        @app.delete("/api/chat/sessions/{session_id}")
        async def chat_end(session_id: str) -> dict:
            """End a conversation (sessions also expire on their own)."""
            if not chat_svc.store.delete(session_id):
                raise HTTPException(404, "unknown or expired session")
            return {"deleted": True}

    # ----------------------------------------------------------------------------------- uploads
    raw = {"requestBody": {"required": True, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}}}

    async def _upload(request: Request, limit: int) -> bytes:
        data = await request.body()
        if not data:
            raise HTTPException(422, "empty upload; send the file as the request body")
        if len(data) > limit:
            raise HTTPException(413, f"upload is {len(data)} bytes; the limit is {limit}")
        return data

    def add_search_routes(name: str, svc: Any) -> None:
        @app.post(f"/api/search/{name}", openapi_extra=raw, name=f"search_{name}")
        async def search_endpoint(request: Request, k: int = Query(10, ge=1, le=100)) -> dict:
            """The k nearest indexed images to the uploaded image (PNG, JPEG, GIF or BMP body): ``score``
            (cosine) for a retrieval index, ``distance`` (Hamming, out of ``bits``) for a hash index."""
            data = await _upload(request, cfg.max_upload_bytes)
            try:
                check_image(data, cfg.max_image_pixels)
            except PaperzooError as e:
                raise HTTPException(415, str(e)) from None
            return {"results": await run_job(svc.query, data, k)}

        @app.get(f"/api/search/{name}/images/{{image_id}}", name=f"search_{name}_image")
        async def search_image(image_id: int) -> FileResponse:
            """An indexed image by its id (ids come from a search answer)."""
            if not 0 <= image_id < len(svc.paths):
                raise HTTPException(404, f"no image {image_id}; ids run 0..{len(svc.paths) - 1}")
            p = Path(svc.paths[image_id])
            if not p.is_file():
                raise HTTPException(404, f"indexed image {p.name} is no longer on disk")
            return FileResponse(p)

    for name in ("retrieval", "hash"):
        if name in services:
            add_search_routes(name, services[name])

    if "netclass" in services:
        net_svc = services["netclass"]

        @app.post("/api/netclass", openapi_extra=raw)
        async def netclass_endpoint(request: Request, format: str = Query("edgelist", pattern="^(edgelist|csv|graphml)$"),
                                    seed: int = Query(0, ge=0, le=2**31 - 1)) -> dict:
            """Class probabilities and the CNC image of an uploaded network (edge list 'u v [w]', CSV or GraphML)."""
            data = await _upload(request, cfg.max_upload_bytes)
            return await run_job(net_svc.classify, data, format, cfg.max_graph_edges, seed)

    if "seg3d" in services:
        seg_svc = services["seg3d"]

        @app.post("/api/seg3d", openapi_extra=raw)
        async def seg3d_endpoint(request: Request) -> dict:
            """Organ labels of an uploaded CT volume (.nii / .nii.gz, HU): slices with the overlay + voxel counts."""
            data = await _upload(request, cfg.max_nifti_bytes)
            return await run_job(seg_svc.segment, data)

    return app


CONFIG_ENV = "PAPERZOO_SERVE_CONFIG"


def app_from_env() -> FastAPI:
    """uvicorn factory for ``paperzoo serve --workers N``: the `ServeConfig` comes as JSON in $PAPERZOO_SERVE_CONFIG."""
    import os

    return create_app(ServeConfig.from_json(json.loads(os.environ.get(CONFIG_ENV, "{}"))))

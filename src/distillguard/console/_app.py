"""The console's web application: server-rendered pages (Jinja2, autoescaped), HTMX for the
small in-page updates, Cytoscape.js for the account graph, charts drawn by the report's own
chart code; sessions signed by Starlette's SessionMiddleware (itsdangerous); a CSRF token per
session on every form and HTMX request; roles ``viewer`` (read) and ``analyst`` (act)."""

from __future__ import annotations

import csv
import hmac
import io
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from distillguard import redaction
from distillguard.config import Settings
from distillguard.console._data import ConsoleData, Filters, reasons_of
from distillguard.console._state import LABELS, STATUSES, ConsoleState, User, state_file
from distillguard.errors import DistillguardError, InputError

MEMBER_ROWS = 200
"""Member accounts a campaign page lists (the highest risk first; the report JSON has all)."""
log = logging.getLogger("distillguard.console")
HERE = Path(__file__).parent
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
ACTIONS = ("block", "throttle", "restrict", "shape", "verify", "allow")
MAX_FAILURES = 5
LOCKOUT_S = 900.0
"""A user name with this many failed logins in this many seconds is refused until they age."""


class Forbidden(Exception):
    pass


class LoginRequired(Exception):
    pass


def session_secret(state_path: Path) -> str:
    """The key that signs session cookies: ``DISTILLGUARD_CONSOLE_SECRET``, else a random key
    kept beside the state file (0600), created on first start."""
    env = os.environ.get("DISTILLGUARD_CONSOLE_SECRET")
    if env:
        return env
    path = state_path.with_suffix(".secret")
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _draw_once(draw: Any, report: dict[str, Any], image: Path) -> None:
    """Draw a chart under a temporary name, then move it into place (a concurrent request
    never serves half a file)."""
    tmp = image.with_name(f".{secrets.token_hex(4)}.{image.name}")
    draw(report, tmp)
    tmp.replace(image)


def _warm(data: ConsoleData) -> None:
    try:
        data.warm()
    except Exception as exc:  # noqa: BLE001 - a page builds what it needs on demand anyway
        log.warning("console: building the pages at start stopped: %s", exc)


def create_console_app(
    settings: Settings, findings_dir: Path, *, state_path: Path | None = None, warm: bool = True
) -> FastAPI:
    """The console over the findings in ``findings_dir`` and the store in ``settings.db``.
    ``warm`` builds the queue's counts and every campaign's page model on a thread at start."""
    cfg = settings.console
    path = state_file(settings, state_path)
    state = ConsoleState(path)
    data = ConsoleData(settings, findings_dir)
    data.findings()  # a missing or broken findings directory is an error at start
    if settings.report.prompts == "redacted":
        redaction.load()  # not on the first page that shows a prompt
    if warm:
        threading.Thread(target=_warm, args=(data,), name="console-warm", daemon=True).start()
    cache = Path(tempfile.mkdtemp(prefix="dg-console-"))  # charts and reports: 0700
    weakref.finalize(data, shutil.rmtree, cache, True)  # removed with the app, or at exit
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["pct"] = lambda v: f"{float(v or 0) * 100:.0f}%"
    templates.env.filters["risk"] = lambda v: f"{float(v or 0):.2f}"
    templates.env.filters["num"] = lambda v: f"{int(v or 0):,}"
    templates.env.filters["day"] = lambda v: str(v)[:10] if v else "—"
    gateway_token = os.environ.get("DISTILLGUARD_GATEWAY_ADMIN_TOKEN")

    app = FastAPI(title="distillguard console", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(path),
        session_cookie="dg_console",
        max_age=int(cfg.session_hours * 3600),
        same_site="strict",
        https_only=cfg.secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.state.console_data = data  # for the page benchmark

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["content-security-policy"] = _CSP
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        response.headers["cache-control"] = "no-store"
        return response

    # -- who is asking -----------------------------------------------------------------------
    def current_user(request: Request) -> User | None:
        if cfg.trusted_user_header:
            name = request.headers.get(cfg.trusted_user_header)
            if not name:
                return None
            role = request.headers.get(cfg.trusted_role_header or "", "viewer")
            return User(name[:100], "analyst" if role == "analyst" else "viewer")
        name = request.session.get("user")
        return state.user(str(name)) if name else None

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            request.session["csrf"] = token
        return str(token)

    def need_user(request: Request) -> User:
        user = current_user(request)
        if user is None:
            raise LoginRequired
        return user

    def token_ok(request: Request, sent: str) -> bool:
        """Whether ``sent`` is this session's CSRF token."""
        expected = str(request.session.get("csrf") or "")
        return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())

    async def need_analyst(request: Request) -> tuple[User, dict[str, str]]:
        """The analyst making a change, and the form, after the CSRF check."""
        user = need_user(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not token_ok(request, form.get("csrf") or request.headers.get("x-csrf-token") or ""):
            raise Forbidden("the form's CSRF token is missing or wrong: reload the page")
        if not user.can_act:
            raise Forbidden(f"{user.name} is a viewer: acting needs the analyst role")
        return user, form

    def page(request: Request, name: str, user: User | None, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            name,
            {"user": user, "csrf": csrf_token(request), "flash": request.session.pop("flash", None),
             "gateway": bool(cfg.gateway_url), **context},
        )  # fmt: skip

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if cfg.trusted_user_header:
            return HTMLResponse("authentication required", status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return HTMLResponse(
            templates.env.get_template("error.html").render(message=str(exc), user=None),
            status_code=403,
        )

    @app.exception_handler(DistillguardError)
    async def bad_input(request: Request, exc: DistillguardError) -> Response:
        return HTMLResponse(
            templates.env.get_template("error.html").render(message=str(exc), user=None),
            status_code=400,
        )

    # -- logging in --------------------------------------------------------------------------
    failures: dict[str, list[float]] = {}

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html", None, error=None)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        if not token_ok(request, str(form.get("csrf") or "")):
            raise Forbidden("the login form expired: reload the page")
        name = str(form.get("username", ""))[:100]
        now = time.monotonic()
        recent = [t for t in failures.get(name, []) if now - t < LOCKOUT_S]
        if len(recent) >= MAX_FAILURES:
            log.warning("console: login for %r refused: too many failures", name)
            return page(request, "login.html", None,
                        error="Too many failed logins for this user: try again in 15 minutes.")  # fmt: skip
        user = await run_in_threadpool(state.authenticate, name, str(form.get("password", "")))
        if user is None:
            log.warning("console: failed login for %r", name)
            if len(failures) > 10_000:
                failures.clear()
            failures[name] = [*recent, now]
            return page(request, "login.html", None, error="Unknown user or wrong password.")
        failures.pop(name, None)
        request.session.clear()
        request.session["user"] = user.name
        request.session["csrf"] = secrets.token_urlsafe(32)  # a new token for the new session
        state.audit(user, "login", user.name, {})
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        user = need_user(request)
        form = await request.form()
        if token_ok(request, str(form.get("csrf", ""))):
            state.audit(user, "logout", user.name, {})
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -- pages -------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    async def queue(
        request: Request, verdict: str = "", status: str = "", q: str = "", kind: str = ""
    ) -> HTMLResponse:
        user = need_user(request)
        filters = Filters(verdict=verdict[:20], status=status[:20], q=q[:200], kind=kind[:20])
        items = await run_in_threadpool(data.queue, filters, state.statuses())
        return page(request, "queue.html", user, items=items, filters=filters, statuses=STATUSES,
                    verdicts=("act", "review", "watch", "ok"))  # fmt: skip

    @app.get("/campaign/{cluster_id}", response_class=HTMLResponse)
    async def campaign(request: Request, cluster_id: str) -> HTMLResponse:
        user = need_user(request)
        report = await run_in_threadpool(data.report, cluster_id)
        shown = report["accounts"][:MEMBER_ROWS]
        members = [m["account_id"] for m in shown]
        labels = state.labels()
        decisions = await _decisions(cluster_id, members[:50])
        by_account = data.findings().by_account
        first_reason = {
            m: str(next(iter(reasons_of(by_account.get(m, {}).get("reasons"))), {}).get("text", ""))
            for m in members
        }
        return page(request, "campaign.html", user, r=report, shown=shown, labels=labels, decisions=decisions,
                    statuses=STATUSES, status=state.statuses().get(cluster_id, "new"),
                    label_choices=LABELS, actions=ACTIONS, first_reason=first_reason,
                    audit=state.audit_log(cluster_id, 50))  # fmt: skip

    @app.get("/campaign/{cluster_id}/{chart}.png")
    async def chart(request: Request, cluster_id: str, chart: str) -> Response:
        need_user(request)
        from distillguard.report import _charts

        draw = {"daily": _charts.daily, "creations": _charts.creations}.get(chart)
        if draw is None:
            return Response(status_code=404)
        report = await run_in_threadpool(data.report, cluster_id)
        # drawn once per scan: the findings' stamp names the folder
        out = cache / f"{data.findings().stamp:.6f}" / _safe(cluster_id)
        out.mkdir(parents=True, exist_ok=True)
        image = out / f"{chart}.png"
        if not image.is_file():
            await run_in_threadpool(_draw_once, draw, report, image)
        return FileResponse(image, media_type="image/png")

    @app.get("/account/{account_id}", response_class=HTMLResponse)
    async def account(request: Request, account_id: str) -> HTMLResponse:
        user = need_user(request)
        found = await run_in_threadpool(data.account, account_id)
        if found is None:
            raise InputError(f"no account {account_id[:100]!r} in the store or the findings")
        decisions = await _decisions(None, [account_id])
        return page(request, "account.html", user, a=found, decisions=decisions,
                    history=state.label_history(account_id), label_choices=LABELS,
                    actions=ACTIONS, audit=state.audit_log(account_id, 50))  # fmt: skip

    @app.get("/audit", response_class=HTMLResponse)
    async def audit(request: Request) -> HTMLResponse:
        user = need_user(request)
        return page(request, "audit.html", user, entries=state.audit_log(None, 500))

    # -- acting ------------------------------------------------------------------------------
    @app.post("/label")
    async def label(request: Request) -> Response:
        user, form = await need_analyst(request)
        target = form.get("target", "")
        campaign_id = form.get("campaign") or None
        if campaign_id:
            accounts = list(data.findings().findings.cluster(campaign_id)["account_ids"] or [])
        else:
            accounts = [target]
        if not accounts or not accounts[0]:
            raise InputError("nothing to label")
        state.label(accounts, form.get("label", ""), form.get("note", ""), user, campaign_id)
        request.session["flash"] = f"labelled {len(accounts)} account(s) {form.get('label')}"
        return _back(form)

    @app.post("/status")
    async def set_status(request: Request) -> Response:
        user, form = await need_analyst(request)
        state.set_status(form.get("cluster_id", ""), form.get("status", ""), user)
        return _back(form)

    @app.post("/gateway/decide")
    async def decide(request: Request) -> Response:
        user, form = await need_analyst(request)
        action = form.get("action", "")
        if action not in ACTIONS:
            raise InputError(f"action must be one of {', '.join(ACTIONS)}")
        body: dict[str, Any] = {
            "action": action,
            "scope": "cluster" if form.get("scope") == "cluster" else "account",
            "target": form.get("target", ""),
            "reason": f"console: {user.name}: {form.get('reason', '')}"[:2000],
            "source": "admin",
        }
        if action == "verify":
            body["params"] = {"level": form.get("level") or "id"}
        result = await _gateway("POST", "/admin/decisions", json=body)
        state.audit(user, "decide", body["target"], {**body, "result": result.get("id")})
        request.session["flash"] = f"{action} imposed on {body['target']} ({result.get('id')})"
        return _back(form)

    @app.post("/gateway/{decision_id}/{verb}")
    async def review(request: Request, decision_id: str, verb: str) -> Response:
        user, form = await need_analyst(request)
        if verb not in ("revoke", "confirm"):
            return Response(status_code=404)
        payload = None
        if verb == "revoke":
            hours = form.get("suppress_hours") or "0"
            payload = {"suppress_hours": float(hours) if hours.replace(".", "", 1).isdigit() else 0}
        result = await _gateway(
            "POST", f"/admin/decisions/{_safe(decision_id)}/{verb}", json=payload
        )
        state.audit(user, verb, str(result.get("target", decision_id)),
                    {"decision": decision_id, **(payload or {})})  # fmt: skip
        request.session["flash"] = f"decision {decision_id} {verb}d"
        return _back(form)

    # -- downloads ---------------------------------------------------------------------------
    @app.get("/campaign/{cluster_id}/report.{kind}")
    async def report_file(request: Request, cluster_id: str, kind: str) -> Response:
        user = need_user(request)
        if kind not in ("html", "pdf", "json"):
            return Response(status_code=404)
        from distillguard._extras import require

        require("report", "console downloads")
        from distillguard.report import write_report

        out = cache / "reports" / _safe(cluster_id)

        def write() -> Any:
            with data.store() as store:
                return write_report(store, data.findings().findings, cluster_id, out, settings)

        files = await run_in_threadpool(write)
        path = {"html": files.html, "pdf": files.pdf, "json": files.json}[kind]
        if path is None:
            raise InputError("PDF reports are off in this configuration (report.pdf)")
        state.audit(user, "download", cluster_id, {"file": f"report.{kind}"})
        media = {"html": "text/html", "pdf": "application/pdf", "json": "application/json"}[kind]
        return FileResponse(path, media_type=media, filename=f"{_safe(cluster_id)}-report.{kind}")

    @app.get("/campaign/{cluster_id}/stix.json")
    async def stix(request: Request, cluster_id: str) -> Response:
        user = need_user(request)
        from distillguard._extras import require

        require("intel", "console downloads")
        from distillguard.intel.stix import export_bundle
        from distillguard.rules import load_rules

        def export() -> dict[str, Any]:
            with data.store() as store:
                return export_bundle(
                    store, data.findings().findings, cluster_id, settings, load_rules()
                )

        bundle = await run_in_threadpool(export)
        state.audit(user, "download", cluster_id, {"file": "stix.json"})
        return Response(json.dumps(bundle, indent=1, default=str), media_type="application/json",
                        headers={"content-disposition": f'attachment; filename="{_safe(cluster_id)}-stix.json"'})  # fmt: skip

    @app.get("/labels.csv")
    async def labels_csv(request: Request) -> Response:
        need_user(request)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["account_id", "label"])
        writer.writerows(sorted(state.labels().items()))
        return Response(out.getvalue(), media_type="text/csv")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # -- helpers -----------------------------------------------------------------------------
    async def _gateway(method: str, path: str, **kw: Any) -> dict[str, Any]:
        if not cfg.gateway_url:
            raise InputError("no gateway configured: start the console with --gateway URL")
        if not gateway_token:
            raise InputError("DISTILLGUARD_GATEWAY_ADMIN_TOKEN is not set for the console")
        try:
            async with httpx.AsyncClient(base_url=cfg.gateway_url, timeout=10) as client:
                r = await client.request(
                    method, path, headers={"authorization": f"Bearer {gateway_token}"}, **kw
                )
        except httpx.HTTPError as exc:
            raise InputError(f"the gateway at {cfg.gateway_url} cannot be reached: {exc}") from exc
        if r.status_code >= 400:
            raise InputError(f"the gateway refused ({r.status_code}): {r.text[:300]}")
        result = r.json()
        return result if isinstance(result, dict) else {"items": result}

    async def _decisions(cluster_id: str | None, accounts: list[str]) -> list[dict[str, Any]]:
        """Decisions the gateway holds on these accounts and this cluster (newest first);
        empty without a gateway."""
        if not cfg.gateway_url or not gateway_token:
            return []
        targets = set(accounts) | ({cluster_id} if cluster_id else set())
        try:
            items = (await _gateway("GET", "/admin/decisions")).get("items", [])
        except InputError as exc:
            log.warning("console: %s", exc)
            return []
        return [d for d in items if isinstance(d, dict) and d.get("target") in targets][:100]

    return app


def _safe(text: str) -> str:
    """A path or URL segment from an id: letters, digits, ``-``, ``_``, ``.`` only."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:120] or "_"


def _back(form: dict[str, str]) -> Response:
    target = form.get("back", "/")
    # only pages of this site: not "//host" nor "/\\host" (browsers read "\\" as "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"
    return RedirectResponse(target, status_code=303)

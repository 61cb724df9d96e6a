"""An example HTTP service on koordrules, with the standard library only (``http.server``).

Not part of the library: a pattern for an application that embeds it. Run it with

    python examples/service/koordservice.py --port 8080 --log decisions.jsonl

and set ``KOORDRULES_AUDIT_KEY`` to sign the decision records (the key comes from the
application's secret store, never from the code).

Endpoints (JSON in, JSON out):

* ``GET /sets`` — the catalogue: id, version, title and status of every set.
* ``POST /evaluate`` — ``{"set": "helse-vest/anbefaling-3", "record": {...},
  "decision_id": "...", "lang": "nb"}``: the result (with the trace), its text in bokmål
  (``nb``) or English (``en``), and the decision record appended to the
  log (``decision_id`` optional; a random UUID otherwise).
* ``POST /explain`` — ``{"decision": <decision record>, "record": {...}}``: the stored decision
  fully verified against the set it names and re-explained (the record is needed when the log
  keeps only the input's hash).

Errors map to HTTP statuses by their type: a bad record (:class:`koordrules.InputError`) is 422
with every problem (``field``, ``code``, ``message``; no message holds a value); an unknown set
(:class:`koordrules.CatalogError`) is 404; a decision record that does not verify
(:class:`koordrules.AuditError`) is 409 for a repeated id and 422 otherwise; a backend failure
(:class:`koordrules.BackendError`, :class:`koordrules.EvalError`) is 500 with the library's
message, which never quotes patient values. No request body is ever logged.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import koordrules

Reply = tuple[int, dict[str, Any]]

MAX_BODY = 1 << 20
"""Largest request body read (bytes): bad input is refused in bounded memory."""


def error_reply(error: koordrules.KoordError) -> Reply:
    """The HTTP status and JSON body for a library error."""
    body: dict[str, Any] = {"error": {"code": error.code, "message": error.message}}
    if isinstance(error, koordrules.InputError):
        body["error"]["problems"] = [
            {"field": p.field, "code": p.code, "message": p.message} for p in error.problems]
        return HTTPStatus.UNPROCESSABLE_ENTITY, body
    if isinstance(error, koordrules.CatalogError):
        return HTTPStatus.NOT_FOUND, body
    if isinstance(error, koordrules.AuditError):
        status = HTTPStatus.CONFLICT if error.code == "duplicate_id" \
            else HTTPStatus.UNPROCESSABLE_ENTITY
        return status, body
    if isinstance(error, koordrules.EvalError):  # BackendError is one
        return HTTPStatus.INTERNAL_SERVER_ERROR, body
    return HTTPStatus.BAD_REQUEST, body


def _bad_request(message: str) -> Reply:
    return HTTPStatus.BAD_REQUEST, {"error": {"code": "bad_request", "message": message}}


class Service:
    """The endpoints as plain methods (no sockets), shared by every request thread.

    The catalogue and its compiled programs are immutable and safe to share; the decision log
    serialises its own appends.
    """

    def __init__(self, catalog: koordrules.Catalog, log: koordrules.AuditLog, *,
                 key: bytes | None = None) -> None:
        self.catalog = catalog
        self.log = log
        self.key = key
        """The log's signing key: every decision record it is asked to explain must carry a
        valid signature made with it."""

    def handle(self, method: str, path: str, body: Any) -> Reply:
        """Route one request; every library error becomes its HTTP reply."""
        try:
            if method == "GET" and path == "/sets":
                return HTTPStatus.OK, self.sets()
            if method == "POST" and path == "/evaluate":
                return HTTPStatus.OK, self.evaluate(_object(body))
            if method == "POST" and path == "/explain":
                return HTTPStatus.OK, self.explain(_object(body))
        except koordrules.KoordError as ex:
            return error_reply(ex)
        except _BadRequest as ex:
            return _bad_request(str(ex))
        return HTTPStatus.NOT_FOUND, {"error": {"code": "not_found",
                                                "message": f"no endpoint {method} {path}"}}

    def sets(self) -> dict[str, Any]:
        return {"sets": [{"id": cs.id, "version": cs.version, "title": cs.title.get("nb"),
                          "status": cs.status, "sha256": cs.sha256} for cs in self.catalog]}

    def evaluate(self, body: Mapping[str, Any]) -> dict[str, Any]:
        cs = self.catalog.get(_text(body, "set"))
        record = _object(body.get("record"))
        lang = _lang(body)
        decision_id = body.get("decision_id")
        if decision_id is not None and not isinstance(decision_id, str):
            raise _BadRequest("decision_id must be text")
        result = koordrules.evaluate(cs, record)
        entry = self.log.record(cs, record, result, decision_id=decision_id)
        return {"decision_id": entry["decision_id"], "result": result.to_dict(),
                "text": koordrules.render_text(result, lang=lang)}

    def explain(self, body: Mapping[str, Any]) -> dict[str, Any]:
        entry = _object(body.get("decision"))
        record = body.get("record")
        if record is not None:
            record = _object(record)
        ref = entry.get("criteria_set")
        if not isinstance(ref, Mapping):
            raise _BadRequest("decision must be a decision record naming its criteria set")
        cs = self.catalog.get(f"{ref.get('id')}@{ref.get('version')}")
        result = koordrules.verify_decision(entry, cs, record, key=self.key)
        return {"decision_id": entry["decision_id"], "verified": True,
                "result": result.to_dict(), "text": koordrules.render_text(result,
                                                                          lang=_lang(body))}


class _BadRequest(Exception):
    """The request's shape is wrong (not the record's content, which the library checks)."""


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _BadRequest("expected a JSON object")
    return value


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise _BadRequest(f"{name} must be text")
    return value


def _lang(body: Mapping[str, Any]) -> str:
    lang = body.get("lang", "nb")
    if lang not in ("nb", "en"):
        raise _BadRequest("lang must be nb or en")
    return str(lang)


def handler_for(service: Service) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``service``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(*service.handle("GET", self.path, None))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(*_bad_request(f"the body is larger than {MAX_BODY} bytes"))
                return
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except (ValueError, UnicodeDecodeError):
                self._reply(*_bad_request("the body is not JSON"))
                return
            self._reply(*service.handle("POST", self.path, body))

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Log the request line only (never a body)."""
            super().log_message("%s", self.requestline.split(" HTTP/")[0])

    return Handler


def make_server(service: Service, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A threading HTTP server for ``service`` (``port=0``: any free port)."""
    return ThreadingHTTPServer((host, port), handler_for(service))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--log", type=Path, default=Path("decisions.jsonl"))
    args = parser.parse_args()
    secret = os.environ.get("KOORDRULES_AUDIT_KEY")
    key = secret.encode() if secret else None
    log = koordrules.AuditLog(args.log, policy="hash", key=key)
    server = make_server(Service(koordrules.Catalog.builtin(), log, key=key), port=args.port)
    print(f"serving on http://127.0.0.1:{server.server_port}")
    server.serve_forever()


if __name__ == "__main__":
    main()

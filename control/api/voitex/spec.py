"""The face's endpoints, each declared once with the pydantic model of its fields (path and
body together): the same model validates every request and describes the endpoint in
`/openapi.json`, so the document cannot drift from what is enforced."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from control.api.voitex.context import FaceConfig
from control.api.voitex.fields import read_fields
from control.errors import Invalid

M = TypeVar("M", bound=BaseModel)
PATH_PARAM = re.compile(r"{(\w+)}")
ERRORS = {"400": "invalid input", "401": "no Auth-Key, or a wrong one", "404": "not found",
          "409": "conflict: a phone, label or sort number already taken", "413": "body too large",
          "429": "over the tenant's limit (see Retry-After)", "503": "the platform cannot answer now"}


@dataclass(frozen=True)
class Endpoint(Generic[M]):
    method: str
    path: str
    summary: str
    fields: type[M]
    handler: Callable[[web.Request, M], Awaitable[web.Response]]
    data: dict[str, Any]  # the JSON schema of the answer's `data`
    body: bool = False  # reads a body (form, multipart or JSON) besides the path


def install(app: web.Application, config: FaceConfig, endpoints: list[Endpoint[Any]]) -> None:
    for endpoint in endpoints:
        handler = _validating(endpoint, config)
        app.router.add_route(endpoint.method, endpoint.path, handler)
        if endpoint.path.endswith("/"):  # clients often leave the document's trailing slash off
            app.router.add_route(endpoint.method, endpoint.path.rstrip("/"), handler)


def _validating(endpoint: Endpoint[M], config: FaceConfig) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        values: dict[str, Any] = dict(request.match_info)
        fields = await read_fields(request, config.max_body_bytes, config.data_dir / "uploads") if endpoint.body \
            else None
        try:
            if fields is not None:
                values = {**fields.values, **fields.files, **values}  # the path's word wins
            try:
                model = endpoint.fields.model_validate(values)
            except ValidationError as exc:
                raise Invalid(messages(exc)) from None
            return await endpoint.handler(request, model)
        finally:
            if fields is not None:
                fields.close()
    return handle


def messages(exc: ValidationError) -> list[str]:
    """pydantic's errors in the face's words: `field what is wrong`. A validator of ours raises
    ValueError("must be ..."), which reads on from the field's name."""
    found = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"])
        text = str(error["msg"])
        if text.startswith("Value error, "):  # ours: a sentence, reading on from the field
            text = text.removeprefix("Value error, ")
            found.append(f"{where} {text}" if where else text)  # no field: a rule of the whole request
        else:
            found.append(f"{where}: {text}" if where else text)
    return found


def openapi(endpoints: list[Endpoint[Any]], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the face, from the endpoints' own models."""
    components: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for endpoint in endpoints:
        schema = endpoint.fields.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        in_path = set(PATH_PARAM.findall(endpoint.path))
        properties = schema.get("properties", {})
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "parameters": [{"name": name, "in": "path", "required": True, "schema": properties[name]}
                           for name in sorted(in_path)],
            "responses": {"200": {"description": "success", "content": {"application/json": {
                "schema": _answer(endpoint.data)}}},
                **{code: {"description": what, "content": {"application/json": {"schema": _answer({"type": "null"})}}}
                   for code, what in ERRORS.items()}},
        }
        if endpoint.body:
            body = {**schema, "properties": {k: v for k, v in properties.items() if k not in in_path},
                    "required": [r for r in schema.get("required", []) if r not in in_path]}
            # A file only travels in multipart: JSON and urlencoded bodies cannot carry one.
            textual = {**body, "properties": {k: v for k, v in body["properties"].items()
                                              if not _is_file(v)}}
            operation["requestBody"] = {"required": True, "content": {
                "multipart/form-data": {"schema": body},
                "application/x-www-form-urlencoded": {"schema": textual},
                "application/json": {"schema": textual}}}
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "voicectl: the Voitex-compatible API", "version": version,
                 "description": "Each Voitex host is a path prefix here. Every answer is "
                                "{status, data, errors}; see the README's \"The REST API\"."},
        "components": {"schemas": components, "securitySchemes": {
            "AuthKey": {"type": "apiKey", "in": "header", "name": "Auth-Key"}}},
        "security": [{"AuthKey": []}],
        "paths": paths,
    }


def _answer(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["status", "data", "errors"], "properties": {
        "status": {"enum": ["success", "error"]}, "data": data,
        "errors": {"type": "array", "items": {"type": "string"}}}}


def _is_file(schema: dict[str, Any]) -> bool:
    return schema.get("format") == "binary" or any(_is_file(one) for one in schema.get("anyOf", []))

"""`voicectl`: install, run and provision the platform."""
from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

import click
import uvloop
import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls import service as calls
from control.errors import Invalid, ServiceError
from control.ivrs import service as ivrs
from control.numbers import service as numbers
from control.pbx import config as pbx_config
from control.pbx.secrets import load_or_create
from control.pbx.sync import apply_trunks, trunk_confs
from control.settings import REPO_ROOT, Settings
from control.store.db import make_engine, migrate, sessions
from control.tenants import service as tenants
from control.trunks import service as trunks

T = TypeVar("T")
DEMO_NUMBER = "+18005550100"
DEMO_IVR = REPO_ROOT / "examples" / "demo-ivr.yaml"


def _with_db(settings: Settings, work: Callable[[async_sessionmaker], Awaitable[T]]) -> T:
    """Run one service call on a migrated database; service errors become CLI errors."""
    migrate(settings.database_url)

    async def run() -> T:
        engine = make_engine(settings.database_url)
        try:
            return await work(sessions(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except Invalid as exc:
        raise click.ClickException("\n".join(["rejected, nothing was stored:", *(f"  {e}" for e in exc.errors)]))
    except ServiceError as exc:
        raise click.ClickException(str(exc))


def _print(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """voicectl: programmable voice on your own Asterisk."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aioari", "aioswagger11", "panoramisk", "alembic", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = Settings.from_env()


@main.command()
@click.pass_obj
def install(settings: Settings) -> None:
    """Install Asterisk (host package or a cached Debian sid rootfs), SIPp, espeak-ng, sox."""
    subprocess.run([str(REPO_ROOT / "asterisk" / "install.sh"), str(settings.asterisk_rootfs)], check=True)


@main.command()
@click.pass_obj
def init(settings: Settings) -> None:
    """Create the data directory, the database schema, secrets and Asterisk's config."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secrets = load_or_create(settings.data_dir)
    confs = _with_db(settings, trunk_confs)
    where = pbx_config.render(settings, secrets, confs)
    click.echo(f"data directory {settings.data_dir} ready; Asterisk config in {where.host_dir / 'etc'}")


@main.command()
@click.pass_obj
def up(settings: Settings) -> None:
    """Run Asterisk, the Stasis app, AMI and the HTTP server in the foreground."""
    from control.platform import serve

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    # uvloop: the same asyncio, with the transport layer in C; every ARI request and event
    # goes through it (bench/README.md has the difference).
    uvloop.run(serve(settings))


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    """Ask the running platform's /healthz."""
    url = f"http://127.0.0.1:{settings.http_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            body, code = json.load(resp), resp.status
    except urllib.error.HTTPError as exc:
        body, code = json.load(exc), exc.code
    except OSError as exc:
        raise click.ClickException(f"the platform is not answering on {url}: {exc}")
    asterisk = body.get("asterisk") or {}
    _print(body, as_json, f"{body.get('status')} (HTTP {code}): ARI {'up' if body.get('ari') else 'down'}, "
           f"AMI {'up' if body.get('ami') else 'down'}, Asterisk {asterisk.get('version', '?')}, "
           f"{asterisk.get('active_channels', '?')} channels, {body.get('active_calls')} calls in the app")
    if code != 200:
        sys.exit(1)


# -- tenants ----------------------------------------------------------------------------------
@main.group()
def tenant() -> None:
    """Tenants and their Auth-Keys."""


@tenant.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tenant_create(settings: Settings, name: str, as_json: bool) -> None:
    """Create a tenant; its Auth-Key is printed this once (only a hash is kept)."""
    created = _with_db(settings, lambda db: tenants.create_tenant(db, name))
    _print(created.__dict__, as_json,
           f"tenant {created.id} ({created.name})\nAuth-Key: {created.auth_key}\n"
           "Keep the key now: it is stored only as a hash and cannot be shown again.")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tenant_list(settings: Settings, as_json: bool) -> None:
    rows = _with_db(settings, tenants.list_tenants)
    data = [{"id": t.id, "name": t.name, "created_at": t.created_at} for t in rows]
    _print(data, as_json, "\n".join(f"{t['id']}  {t['name']}" for t in data) or "no tenants")


# -- trunks -----------------------------------------------------------------------------------
@main.group()
def trunk() -> None:
    """SIP trunks: peers identified by IP address."""


@trunk.command("add")
@click.argument("name")
@click.option("--host", required=True, help="IP[:PORT] the trunk sends from (port defaults to 5060).")
@click.pass_obj
def trunk_add(settings: Settings, name: str, host: str) -> None:
    async def work(db: async_sessionmaker) -> str:
        await trunks.add_trunk(db, name, host)
        return await apply_trunks(settings, db)

    click.echo(f"trunk {name} added ({_with_db(settings, work)})")


@trunk.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def trunk_list(settings: Settings, as_json: bool) -> None:
    data = [{"name": t.name, "host": t.host, "port": t.port} for t in _with_db(settings, trunks.list_trunks)]
    _print(data, as_json, "\n".join(f"{t['name']}  {t['host']}:{t['port']}" for t in data) or "no trunks")


@trunk.command("remove")
@click.argument("name")
@click.pass_obj
def trunk_remove(settings: Settings, name: str) -> None:
    async def work(db: async_sessionmaker) -> str:
        await trunks.remove_trunk(db, name)
        return await apply_trunks(settings, db)

    click.echo(f"trunk {name} removed ({_with_db(settings, work)})")


# -- numbers ----------------------------------------------------------------------------------
@main.group()
def number() -> None:
    """Phone numbers (DIDs) and the tenant that owns each."""


@number.command("add")
@click.argument("number_text", metavar="NUMBER")
@click.option("--tenant", "tenant_id", required=True)
@click.pass_obj
def number_add(settings: Settings, number_text: str, tenant_id: str) -> None:
    added = _with_db(settings, lambda db: numbers.add_number(db, number_text, tenant_id))
    click.echo(f"number {added.e164} added for {tenant_id}")


@number.command("list")
@click.option("--tenant", "tenant_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def number_list(settings: Settings, tenant_id: str | None, as_json: bool) -> None:
    data = [{"number": n.e164, "tenant": n.tenant_id}
            for n in _with_db(settings, lambda db: numbers.list_numbers(db, tenant_id))]
    _print(data, as_json, "\n".join(f"{n['number']}  {n['tenant']}" for n in data) or "no numbers")


@number.command("remove")
@click.argument("number_text", metavar="NUMBER")
@click.pass_obj
def number_remove(settings: Settings, number_text: str) -> None:
    _with_db(settings, lambda db: numbers.remove_number(db, number_text))
    click.echo(f"number {number_text} removed")


# -- IVRs -------------------------------------------------------------------------------------
@main.group()
def ivr() -> None:
    """IVR documents: numbered branches, per number."""


def _load_document(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())  # YAML is a superset of JSON: one loader reads both
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{path}: not valid YAML or JSON: {exc}")


@ivr.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--number", "number_text", required=True)
@click.pass_obj
def ivr_import(settings: Settings, file: Path, number_text: str) -> None:
    """Validate FILE whole (YAML or JSON) and store it as NUMBER's IVR."""
    document = _load_document(file)
    imported = _with_db(settings, lambda db: ivrs.import_ivr(db, number_text, document))
    click.echo(f"IVR with {len(imported.branches)} branches imported for {numbers.parse_number(number_text)}")


@ivr.command("export")
@click.argument("number_text", metavar="NUMBER")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def ivr_export(settings: Settings, number_text: str, as_json: bool) -> None:
    document = _with_db(settings, lambda db: ivrs.export_ivr(db, number_text))
    click.echo(json.dumps(document, indent=2) if as_json else yaml.safe_dump(document, sort_keys=False))


# -- calls ------------------------------------------------------------------------------------
@main.group("calls")
def calls_group() -> None:
    """Call records."""


def _call_dict(c: Any) -> dict[str, Any]:
    return {"id": c.id, "direction": c.direction, "number": c.number, "caller_id": c.caller_id,
            "caller_name": c.caller_name, "tenant_id": c.tenant_id, "started_at": c.started_at,
            "answered_at": c.answered_at, "ended_at": c.ended_at, "hangup_cause": c.hangup_cause,
            "hangup_cause_text": c.hangup_cause_text, "hangup_by": c.hangup_by, "branch_data": c.branch_data}


@calls_group.command("list")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def calls_list(settings: Settings, limit: int, as_json: bool) -> None:
    data = [_call_dict(c) for c in _with_db(settings, lambda db: calls.list_calls(db, limit))]
    lines = [f"{c['id']}  {c['started_at']:%Y-%m-%d %H:%M:%S}  {c['caller_id'] or '-':>14} -> {c['number']:<14}"
             f"  {'up' if c['ended_at'] is None else (c['hangup_by'] or '?')}"
             f"  {' '.join(v['branch'] + (':' + v['input'] if v['input'] else '') for v in c['branch_data'])}"
             for c in data]
    _print(data, as_json, "\n".join(lines) or "no calls")


@calls_group.command("show")
@click.argument("call_id")
@click.pass_obj
def calls_show(settings: Settings, call_id: str) -> None:
    click.echo(json.dumps(_call_dict(_with_db(settings, lambda db: calls.get_call(db, call_id))), indent=2, default=str))


# -- the demo ---------------------------------------------------------------------------------
@main.command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Provision the demo: a tenant, a trunk for 127.0.0.1 and the demo IVR on +18005550100."""
    document = _load_document(DEMO_IVR)

    async def work(db: async_sessionmaker) -> str:
        existing = {n.e164: n for n in await numbers.list_numbers(db)}
        if DEMO_NUMBER not in existing:
            created = await tenants.create_tenant(db, "demo")
            await numbers.add_number(db, DEMO_NUMBER, created.id)
        if "local" not in {t.name for t in await trunks.list_trunks(db)}:
            await trunks.add_trunk(db, "local", "127.0.0.1")
        await ivrs.import_ivr(db, DEMO_NUMBER, document)
        return await apply_trunks(settings, db)

    _with_db(settings, work)
    click.echo(f"demo IVR on {DEMO_NUMBER}; trunk 'local' accepts calls from 127.0.0.1")


if __name__ == "__main__":
    main()

"""`voicectl`: install, run and provision the platform."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
import uvloop
import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.assets import DEMO_IVR, INSTALL_SCRIPT
from control.calls import service as calls
from control.cli_service import print_result, with_db
from control.errors import ServiceError
from control.flow.loader import DocumentError, read_document
from control.ivrs import service as ivrs
from control.numbers import service as numbers
from control.pbx import config as pbx_config
from control.pbx import modes
from control.pbx.secrets import PbxSecrets, load_or_create
from control.pbx.sync import Applied, apply_trunks, trunk_confs
from control.settings import Settings
from control.store.db import migrate
from control.tenants import service as tenants
from control.text import escape_unshown
from control.transfers import service as transfers
from control.trunks import service as trunks
from control.trunks import validate
from control.trunks.passwords import TrunkPasswords
from control.upkeep import Upkeep, bring_up_to_date

DEMO_NUMBER = "+18005550100"


def _secrets(settings: Settings) -> PbxSecrets:
    """The platform's secrets, the trunk passwords checked readable too (rendering needs them)."""
    try:
        TrunkPasswords(settings.data_dir).load()
        return load_or_create(settings.data_dir)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """voicectl: programmable voice on your own Asterisk."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aioari", "aioswagger11", "panoramisk", "alembic", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Nothing voicectl writes (database, journal, rendered config, media) is for other users.
    os.umask(modes.UMASK)
    try:
        ctx.obj = Settings.from_env()
    except ValueError as exc:  # a setting that does not parse: one line, not a traceback
        raise click.ClickException(f"bad setting: {exc}")


@main.command()
@click.pass_obj
def install(settings: Settings) -> None:
    """Install Asterisk (host package or a cached Debian sid rootfs), SIPp, espeak-ng, sox."""
    subprocess.run(["bash", str(INSTALL_SCRIPT), str(settings.asterisk_rootfs)], check=True)


@main.command()
@click.pass_obj
def init(settings: Settings) -> None:
    """Create the data directory, the database schema, secrets and Asterisk's config."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secrets = _secrets(settings)

    async def work(db: async_sessionmaker) -> tuple[list[trunks.TrunkSpec], Upkeep]:
        # Before rendering: the render re-owns the config for the (maybe remapped) Asterisk user.
        upkeep = await bring_up_to_date(settings, db)
        return await trunk_confs(db), upkeep

    confs, upkeep = with_db(settings, work)
    for note in upkeep.notes():
        click.echo(note)
    for warning in upkeep.warnings():
        click.echo(f"warning: {warning}", err=True)
    where = pbx_config.render(settings, secrets, confs)
    click.echo(f"data directory {settings.data_dir} ready; Asterisk config in {where.host_dir / 'etc'}")


@main.command()
@click.pass_obj
def up(settings: Settings) -> None:
    """Run Asterisk, the Stasis app, AMI and the HTTP server in the foreground."""
    from control.platform import serve

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _secrets(settings)  # damaged secrets: one line here, not a traceback from inside the loop
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
    print_result(body, as_json, f"{body.get('status')} (HTTP {code}): ARI {'up' if body.get('ari') else 'down'}, "
           f"AMI {'up' if body.get('ami') else 'down'}, Asterisk {asterisk.get('version', '?')}, "
           f"{asterisk.get('active_channels', '?')} channels, {body.get('active_calls')} calls in the app")
    if code != 200:
        sys.exit(1)


# -- tenants ----------------------------------------------------------------------------------
@main.group()
def tenant() -> None:
    """Tenants: their Auth-Keys, time zones and webhook signing secrets."""


@tenant.command("create")
@click.argument("name")
@click.option("--timezone", default=tenants.DEFAULT_TIMEZONE, show_default=True,
              help="IANA time zone of the webhooks' date_time, e.g. America/New_York.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tenant_create(settings: Settings, name: str, timezone: str, as_json: bool) -> None:
    """Create a tenant; its Auth-Key and signing secret are printed this once."""
    created = with_db(settings, lambda db: tenants.create_tenant(db, name, timezone))
    print_result(created.__dict__, as_json,
           f"tenant {created.id} ({created.name}), time zone {created.timezone}\n"
           f"Auth-Key: {created.auth_key}\nSigning secret: {created.signing_secret}\n"
           "Keep both now: the key is stored only as a hash, and the secret is never shown again "
           "(`voicectl tenant secret rotate` makes a new one).")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tenant_list(settings: Settings, as_json: bool) -> None:
    """Tenants with their time zones (never a key or a secret)."""
    rows = with_db(settings, tenants.list_tenants)
    data = [{"id": t.id, "name": t.name, "timezone": t.timezone, "created_at": t.created_at,
             "outbound_trunk": t.outbound_trunk, "allowed_countries": t.allowed_countries} for t in rows]
    print_result(data, as_json, "\n".join(f"{t['id']}  {escape_unshown(t['name'])}  {t['timezone']}"
                                    + (f"  outbound {t['outbound_trunk']}" if t["outbound_trunk"] else "")
                                    + (f"  countries {_codes(t['allowed_countries'])}"
                                       if t["allowed_countries"] is not None else "")
                                    for t in data) or "no tenants")


def _codes(codes: Any) -> str:
    return ",".join(f"+{c}" if str(c).isdigit() else str(c) for c in codes) or "none"


@tenant.command("set")
@click.argument("tenant_id", metavar="ID")
@click.option("--timezone", help="IANA time zone, e.g. Europe/Paris.")
@click.option("--outbound-trunk", metavar="NAME",
              help="The trunk transfers to phone numbers go through ('' for none: such transfers are refused).")
@click.option("--allow-countries", metavar="CODES",
              help="Where transfers may dial: regions and calling codes, e.g. US,CA,44 (a code means every "
                   "region sharing it); 'default' (the regions of the tenant's numbers) or 'none'.")
@click.pass_obj
def tenant_set(settings: Settings, tenant_id: str, timezone: str | None, outbound_trunk: str | None,
               allow_countries: str | None) -> None:
    """Change a tenant's settings (new calls see the change within seconds)."""
    if timezone is None and outbound_trunk is None and allow_countries is None:
        raise click.UsageError("give at least one of --timezone, --outbound-trunk, --allow-countries")

    async def work(db: async_sessionmaker) -> tuple[Any, Any]:
        countries = tenants.KEEP if allow_countries is None else tenants.parse_countries(allow_countries)
        trunk = tenants.KEEP if outbound_trunk is None else (outbound_trunk.strip() or None)
        changed = await tenants.update_tenant(db, tenant_id, timezone=timezone, outbound_trunk=trunk,
                                              allowed_countries=countries)
        return changed, await transfers.load_policy(db, tenant_id)

    changed, policy = with_db(settings, work)
    default = "" if policy.countries_set else " (its numbers')"
    click.echo(f"tenant {changed.id}: time zone {changed.timezone}; outbound trunk {changed.outbound_trunk or 'none'}; "
               f"transfers may call {_codes(sorted(policy.allowed))}{default}")


@tenant.group("secret")
def tenant_secret() -> None:
    """The secret that signs a tenant's webhooks (X-Voicectl-Signature)."""


@tenant_secret.command("rotate")
@click.argument("tenant_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tenant_secret_rotate(settings: Settings, tenant_id: str, as_json: bool) -> None:
    """Replace the signing secret: calls that start from a few seconds on sign with the new one."""
    secret = with_db(settings, lambda db: tenants.rotate_secret(db, tenant_id))
    print_result({"id": tenant_id, "signing_secret": secret}, as_json,
           f"tenant {tenant_id}\nSigning secret: {secret}\n"
           "Webhooks are signed with it within 2 seconds; the old secret is no longer used. "
           "It is not shown again.")


@tenant.group("key")
def tenant_key() -> None:
    """The Auth-Key a tenant's REST requests carry."""


@tenant_key.command("rotate")
@click.argument("tenant_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tenant_key_rotate(settings: Settings, tenant_id: str, as_json: bool) -> None:
    """Issue a new Auth-Key: the old one stops working at once."""
    key = with_db(settings, lambda db: tenants.rotate_key(db, tenant_id))
    print_result({"id": tenant_id, "auth_key": key}, as_json,
           f"tenant {tenant_id}\nAuth-Key: {key}\n"
           "The old key no longer works. This one is stored only as a hash: keep it now.")


# -- trunks -----------------------------------------------------------------------------------
PASSWORD_ENV = "VOICECTL_TRUNK_PASSWORD"


@main.group()
def trunk() -> None:
    """SIP trunks: inbound calls matched by source address, a target for outbound."""


def _trunk_password(password_stdin: bool, username: str | None) -> str | None:
    """Never an option: a command line is visible to every user of the machine (ps)."""
    if password_stdin:
        if sys.stdin.isatty():
            return click.prompt("password", hide_input=True)
        # Bounded: a line longer than any password is refused all the same, without reading it all.
        return sys.stdin.readline(validate.MAX_PASSWORD + 2).rstrip("\r\n")
    return os.environ.get(PASSWORD_ENV) if username is not None else None


def _report(settings: Settings, what: str, applied: Applied) -> None:
    """What was done; exit 1 when Asterisk's endpoints are not the database's trunks."""
    click.echo(f"{what} ({applied.done})")
    found = applied.check
    if found is not None and not found.ok:
        log_file = settings.asterisk_dir / "log" / "messages.log"
        problems = [f"Asterisk has not loaded trunk {n!r} (see {log_file})" for n in found.missing]
        problems += [f"Asterisk still runs trunk {n!r}, which is no longer in the database" for n in found.unexpected]
        raise click.ClickException("\n".join(problems))


@trunk.command("add")
@click.argument("name")
@click.option("--match", "matches", multiple=True, metavar="ADDRESS|CIDR",
              help="Where the trunk's calls come from; repeat for several. Only these addresses are let in.")
@click.option("--target", metavar="HOST[:PORT]", help="Where calls and registrations go (port 5060 by default).")
@click.option("--host", metavar="IP[:PORT]", help="Shorthand for --match IP --target IP[:PORT].")
@click.option("--username", help="Digest user name for the provider's challenges.")
@click.option("--password-stdin", is_flag=True,
              help=f"Read the digest password from the first line of stdin (else ${PASSWORD_ENV} is used).")
@click.option("--register", is_flag=True, help="Register with the target (needs --username and a password).")
@click.pass_obj
def trunk_add(settings: Settings, name: str, matches: tuple[str, ...], target: str | None, host: str | None,
              username: str | None, password_stdin: bool, register: bool) -> None:
    if host is not None:
        if matches or target:
            raise click.UsageError("--host is shorthand for --match and --target: give one or the others")
        try:
            address = validate.target(host)[0]
        except ValueError:
            address = host  # parse_trunk names the problem with the others
        matches, target = (address,), host
    password = _trunk_password(password_stdin, username)

    async def work(db: async_sessionmaker) -> Applied:
        spec = trunks.parse_trunk(name, matches, target, username=username, password=password, register=register)
        await trunks.add_trunk(db, TrunkPasswords(settings.data_dir), spec)
        return await apply_trunks(settings, db)

    _report(settings, f"trunk {name} added", with_db(settings, work))


@trunk.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def trunk_list(settings: Settings, as_json: bool) -> None:
    """Trunks with their match list, target and user name (never a password)."""
    data = [{"name": t.name, "match": t.matches, "target": trunks.target_text(t), "username": t.username,
             "register": t.register} for t in with_db(settings, trunks.list_trunks)]
    lines = [f"{t['name']}  match {','.join(t['match'])}  target {t['target']}"
             + (f"  user {t['username']}" if t["username"] else "") + ("  registers" if t["register"] else "")
             for t in data]
    print_result(data, as_json, "\n".join(lines) or "no trunks")


@trunk.command("remove")
@click.argument("name")
@click.pass_obj
def trunk_remove(settings: Settings, name: str) -> None:
    async def work(db: async_sessionmaker) -> Applied:
        await trunks.remove_trunk(db, TrunkPasswords(settings.data_dir), name)
        return await apply_trunks(settings, db)

    _report(settings, f"trunk {name} removed", with_db(settings, work))


# -- numbers ----------------------------------------------------------------------------------
@main.group()
def number() -> None:
    """Phone numbers (DIDs) and the tenant that owns each."""


@number.command("add")
@click.argument("number_text", metavar="NUMBER")
@click.option("--tenant", "tenant_id", required=True)
@click.pass_obj
def number_add(settings: Settings, number_text: str, tenant_id: str) -> None:
    added = with_db(settings, lambda db: numbers.add_number(db, number_text, tenant_id))
    click.echo(f"number {added.e164} added for {tenant_id}")


@number.command("list")
@click.option("--tenant", "tenant_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def number_list(settings: Settings, tenant_id: str | None, as_json: bool) -> None:
    data = [{"number": n.e164, "tenant": n.tenant_id}
            for n in with_db(settings, lambda db: numbers.list_numbers(db, tenant_id))]
    print_result(data, as_json, "\n".join(f"{n['number']}  {n['tenant']}" for n in data) or "no numbers")


@number.command("remove")
@click.argument("number_text", metavar="NUMBER")
@click.pass_obj
def number_remove(settings: Settings, number_text: str) -> None:
    with_db(settings, lambda db: numbers.remove_number(db, number_text))
    click.echo(f"number {number_text} removed")


# -- IVRs -------------------------------------------------------------------------------------
@main.group()
def ivr() -> None:
    """IVR documents: numbered branches, per number."""


def _load_document(path: Path) -> Any:
    try:
        return read_document(path)  # YAML or JSON, strictly: size, aliases, depth, duplicate keys
    except DocumentError as exc:
        raise click.ClickException(str(exc)) from None


@ivr.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--number", "number_text", required=True)
@click.pass_obj
def ivr_import(settings: Settings, file: Path, number_text: str) -> None:
    """Validate FILE whole (YAML or JSON) and store it as NUMBER's IVR."""
    document = _load_document(file)
    imported = with_db(settings, lambda db: ivrs.import_ivr(db, number_text, document))
    click.echo(f"IVR with {len(imported.branches)} branches imported for {numbers.parse_number(number_text)}")


@ivr.command("export")
@click.argument("number_text", metavar="NUMBER")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def ivr_export(settings: Settings, number_text: str, as_json: bool) -> None:
    document = with_db(settings, lambda db: ivrs.export_ivr(db, number_text))
    click.echo(json.dumps(document, indent=2) if as_json else yaml.safe_dump(document, sort_keys=False))


# -- calls ------------------------------------------------------------------------------------
@main.group("calls")
def calls_group() -> None:
    """Call records."""


def _call_dict(c: Any) -> dict[str, Any]:
    return {"id": c.id, "direction": c.direction, "number": c.number, "caller_id": c.caller_id,
            "caller_name": c.caller_name, "tenant_id": c.tenant_id, "started_at": c.started_at,
            "answered_at": c.answered_at, "ended_at": c.ended_at, "hangup_cause": c.hangup_cause,
            "hangup_cause_text": c.hangup_cause_text, "hangup_by": c.hangup_by, "reason": c.reason,
            "node": c.node, "branch_data": c.branch_data, "parent_id": c.parent_id}


# A call record holds what callers, Asterisk and tenants' servers sent (an answer, a url built
# from its variables): its text output escapes every control or formatting character (\x1b),
# never handing one to the terminal.
def _branch_path(branch_data: list[dict[str, Any]]) -> str:
    return " ".join(escape_unshown(v.get("branch", "?")) + (":" + escape_unshown(v["input"]) if v.get("input") else "")
                    for v in branch_data)


def _exchange_lines(number: int, exchange: dict[str, Any]) -> list[str]:
    """One webhook exchange, as an integrator debugging a flow wants to read it."""
    if "skipped" in exchange:
        return [f"  ... {escape_unshown(exchange.get('reason'))}"]
    status = exchange.get("status")
    ms = exchange.get("ms")
    head = (f"  {number}. branch {escape_unshown(exchange.get('branch', '?'))}  POST {escape_unshown(exchange.get('url', '?'))}  "
            f"{'HTTP ' + escape_unshown(status) if status is not None else 'no answer'}"
            + (f"  {escape_unshown(ms)} ms" if ms is not None else ""))
    lines = [head]
    if exchange.get("at"):
        lines.append(f"     at      {escape_unshown(exchange['at'])}")
    lines.append(f"     reason  {escape_unshown(exchange.get('reason') or '-')}")
    if exchange.get("ignored"):
        lines.append(f"     ignored {escape_unshown(exchange['ignored'])}")
    answer = exchange.get("answer")
    # JSON as json.dumps writes it (ASCII: it escapes controls itself), one value per line.
    text = escape_unshown(answer) if isinstance(answer, str) else \
        "\n".join(escape_unshown(line) for line in json.dumps(answer, indent=2, default=str).split("\n"))
    lines.append("     answer  " + text.replace("\n", "\n             "))
    return lines


def _call_text(c: dict[str, Any]) -> str:
    c = {k: v if k in ("branch_data", "variables", "legs", "exchanges") or v is None else escape_unshown(v)
         for k, v in c.items()}
    branches = _branch_path(c["branch_data"]) or "-"
    lines = [f"call {c['id']}  {c['direction']}  {c['caller_id'] or '-'} ({c['caller_name'] or '-'}) -> {c['number']}",
             f"  tenant    {c['tenant_id'] or '-'}  node {c['node'] or '-'}",
             f"  started   {c['started_at']}",
             f"  answered  {c['answered_at'] or '-'}",
             f"  ended     {c['ended_at'] or 'still up'}"
             + (f"  by {c['hangup_by']}" if c["hangup_by"] else "")
             + (f"  cause {c['hangup_cause']} {c['hangup_cause_text'] or ''}".rstrip()
                if c["hangup_cause"] is not None else ""),
             f"  reason    {c['reason'] or '-'}",
             f"  branches  {branches}",
             f"  variables {', '.join(f'{escape_unshown(k)}={escape_unshown(v)}' for k, v in c['variables'].items()) or '-'}"]
    if c.get("parent_id"):
        lines.append(f"  leg of    {c['parent_id']} (a transfer's far leg)")
    for leg in c.get("legs", []):
        result = (leg["variables"] or {}).get("transfer_result", "?")
        lines.append(f"  transfer  {escape_unshown(leg['id'])} -> {escape_unshown(leg['number'])}  {escape_unshown(result)}"
                     + (f"  cause {escape_unshown(leg['hangup_cause'])}" if leg["hangup_cause"] is not None else ""))
    lines.append(f"webhook exchanges: {len(c['exchanges']) or 'none'}")
    for number, exchange in enumerate(c["exchanges"], 1):
        lines += _exchange_lines(number, exchange)
    return "\n".join(lines)


@calls_group.command("list")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def calls_list(settings: Settings, limit: int, as_json: bool) -> None:
    data = [_call_dict(c) for c in with_db(settings, lambda db: calls.list_calls(db, limit))]
    lines = [f"{escape_unshown(c['id'])}  {c['started_at']:%Y-%m-%d %H:%M:%S}  {escape_unshown(c['caller_id'] or '-'):>14}"
             f" -> {escape_unshown(c['number']):<14}"
             f"  {'up' if c['ended_at'] is None else escape_unshown(c['hangup_by'] or '?')}"
             f"  {_branch_path(c['branch_data'])}"
             for c in data]
    print_result(data, as_json, "\n".join(lines) or "no calls")


@calls_group.command("show")
@click.argument("call_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def calls_show(settings: Settings, call_id: str, as_json: bool) -> None:
    """One call's record, its transfers' far legs, then every webhook exchange it made (url,
    status, ms, reason, answer)."""
    async def work(db: async_sessionmaker) -> tuple[Any, list[Any]]:
        return await calls.get_call(db, call_id), await calls.legs_of(db, call_id)

    call, legs = with_db(settings, work)
    data = {**_call_dict(call), "variables": call.variables or {}, "exchanges": call.exchanges or [],
            "legs": [{**_call_dict(leg), "variables": leg.variables or {}} for leg in legs]}
    print_result(data, as_json, _call_text(data))


# -- the demo ---------------------------------------------------------------------------------
@main.command()
@click.option("--if-missing", is_flag=True,
              help="Only when the demo number is not provisioned yet: never undo an operator's changes.")
@click.pass_obj
def demo(settings: Settings, if_missing: bool) -> None:
    """Provision the demo: a tenant, a trunk for 127.0.0.1 and the demo IVR on +18005550100."""
    document = _load_document(DEMO_IVR)

    async def work(db: async_sessionmaker) -> Applied | None:
        existing = {n.e164: n for n in await numbers.list_numbers(db)}
        if if_missing and DEMO_NUMBER in existing:
            return None
        if DEMO_NUMBER not in existing:
            created = await tenants.create_tenant(db, "demo")
            await numbers.add_number(db, DEMO_NUMBER, created.id)
        if "local" not in {t.name for t in await trunks.list_trunks(db)}:
            local = trunks.parse_trunk("local", ["127.0.0.1"], "127.0.0.1")
            await trunks.add_trunk(db, TrunkPasswords(settings.data_dir), local)
        await ivrs.import_ivr(db, DEMO_NUMBER, document)
        return await apply_trunks(settings, db)

    applied = with_db(settings, work)
    if applied is None:
        click.echo(f"{DEMO_NUMBER} is provisioned already; the demo left it as it is")
        return
    _report(settings, f"demo IVR on {DEMO_NUMBER}; trunk 'local' accepts calls from 127.0.0.1", applied)


# Groups kept in modules of their own, added last: they import this module's helpers.
from control.contacts.cli import contacts, label  # noqa: E402
from control.recordings.cli import album, recordings  # noqa: E402

main.add_command(recordings)
main.add_command(album)
main.add_command(label)
main.add_command(contacts)


if __name__ == "__main__":
    main()

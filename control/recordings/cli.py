"""`voicectl recordings`: the album library from the command line."""
from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.cli_service import print_result, with_db
from control.errors import Conflict
from control.recordings import albums, service
from control.recordings.service import RecordingInfo
from control.settings import Settings


def _line(r: RecordingInfo) -> str:
    return f"{r.id:>6}  {r.tenant_id}  album {r.album}  sort {r.sort}  {r.seconds:.1f} s  {r.name}"


@click.group("recordings")
def recordings() -> None:
    """The album library: recordings numbered by album and sort, per tenant, played by
    `{type: file, album, sort}` items. An album exists while it has recordings."""


@recordings.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", "tenant_id", required=True)
@click.option("--album", type=int, required=True)
@click.option("--sort", type=int, help="Its number in the album (default: the lowest free one from 1).")
@click.option("--name", help="Display name (default: the file's name without its extension).")
@click.option("--replace", is_flag=True, help="Replace the recording already at --sort.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def recordings_add(settings: Settings, file: Path, tenant_id: str, album: int, sort: int | None,
                   name: str | None, replace: bool, as_json: bool) -> None:
    """Convert FILE (WAV or MP3) to 8 kHz mono and add it to a tenant's album."""
    async def work(db: async_sessionmaker) -> RecordingInfo:
        try:
            return await service.add_recording(db, settings.data_dir, tenant_id, album, file, sort, name,
                                               replace=replace)
        except Conflict as exc:
            if sort is None or replace:
                raise
            raise Conflict(f"{exc}; --replace replaces it") from None

    added = with_db(settings, work)
    replaced = f"; it replaces recording {added.replaced}" if added.replaced else ""
    print_result(added.as_dict(), as_json, f"recording {added.id} added: album {added.album} sort {added.sort} "
           f"{added.name!r} ({added.seconds:.1f} s) for {added.tenant_id}{replaced}")


@recordings.command("list")
@click.option("--tenant", "tenant_id")
@click.option("--album", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def recordings_list(settings: Settings, tenant_id: str | None, album: int | None, as_json: bool) -> None:
    """Recordings by tenant, album and sort."""
    found = with_db(settings, lambda db: service.list_recordings(db, tenant_id, album))
    print_result([r.as_dict() for r in found], as_json, "\n".join(_line(r) for r in found) or "no recordings")


@recordings.command("remove")
@click.argument("recording_id", metavar="[ID]", required=False)
@click.option("--tenant", "tenant_id", help="With ID: only if it is this tenant's.")
@click.option("--album", type=int)
@click.option("--sort", type=int)
@click.pass_obj
def recordings_remove(settings: Settings, recording_id: str | None, tenant_id: str | None,
                      album: int | None, sort: int | None) -> None:
    """Remove recording ID, or the one at --album and --sort of --tenant."""
    if recording_id is not None and (album is not None or sort is not None):
        raise click.UsageError("give a recording ID, or --tenant, --album and --sort, not both")
    if recording_id is None and (tenant_id is None or album is None or sort is None):
        raise click.UsageError("give a recording ID, or --tenant, --album and --sort")

    removed = with_db(settings, lambda db: service.remove_recording(db, settings.data_dir, recording_id, tenant_id,
                                                                      album=album, sort=sort))
    click.echo(f"recording {removed.id} removed (album {removed.album} sort {removed.sort} of {removed.tenant_id})")


@click.group("album")
def album() -> None:
    """Albums: the numbers recordings are filed under, with optional names. An album is made by
    its first recording (`voicectl recordings add`, or an upload)."""


@album.command("list")
@click.option("--tenant", "tenant_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def album_list(settings: Settings, tenant_id: str | None, as_json: bool) -> None:
    """Albums by tenant and number: name, recordings, total length."""
    found = with_db(settings, lambda db: albums.list_albums(db, tenant_id))
    print_result([a.as_dict() for a in found], as_json, "\n".join(
        f"{a.tenant_id}  album {a.number:<6} {a.recordings:>4} recordings  {a.seconds:7.1f} s  {a.name}"
        for a in found) or "no albums")


@album.command("name")
@click.argument("number", type=int)
@click.argument("name", default="")
@click.option("--tenant", "tenant_id", required=True)
@click.pass_obj
def album_name(settings: Settings, number: int, name: str, tenant_id: str) -> None:
    """Name album NUMBER (no NAME: take its name away)."""
    with_db(settings, lambda db: albums.name_album(db, tenant_id, number, name))
    click.echo(f"album {number} of {tenant_id} is {'named ' + repr(name.strip()) if name.strip() else 'unnamed'}")

"""`voicectl label` and `voicectl contacts`: labels, and contacts in bulk from and to CSV."""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from control.cli_service import print_result, with_db
from control.contacts import importer, service
from control.errors import Invalid
from control.settings import Settings


@click.group("label")
def label() -> None:
    """Contact labels: numbered per tenant; contacts join them (the API's add_label), broadcasts
    go to them."""


@label.command("create")
@click.argument("number", type=int)
@click.argument("name", default="")
@click.option("--tenant", "tenant_id", required=True)
@click.pass_obj
def label_create(settings: Settings, number: int, name: str, tenant_id: str) -> None:
    """Create label NUMBER, named NAME if given."""
    made = with_db(settings, lambda db: service.create_label(db, tenant_id, number, name))
    click.echo(f"label {made.number} created for {tenant_id}" + (f": {made.name}" if made.name else ""))


@label.command("list")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def label_list(settings: Settings, tenant_id: str, as_json: bool) -> None:
    """The tenant's labels and how many contacts each has."""
    found = with_db(settings, lambda db: service.list_labels(db, tenant_id))
    print_result([{"label": f.number, "name": f.name, "contacts": f.contacts} for f in found], as_json,
           "\n".join(f"{f.number:>6}  {f.contacts:>7} contacts  {f.name}" for f in found) or "no labels")


@click.group("contacts")
def contacts() -> None:
    """A tenant's contacts in bulk (one at a time: the REST API's POST /contacts/)."""


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tenant", "tenant_id", required=True)
@click.option("--update", is_flag=True, help="A row whose phone is already a contact's updates that contact "
                                              "(default: the row is rejected).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON, with no progress bar.")
@click.pass_obj
def contacts_import(settings: Settings, file: Path, tenant_id: str, update: bool, as_json: bool) -> None:
    """Import contacts from a CSV FILE (columns: docs/contacts.md). Each row is imported whole or
    rejected with its reason; the rejected rows are listed at the end."""
    try:
        rows = importer.read_csv_file(file)
    except Invalid as exc:
        raise click.ClickException("\n".join([f"{file}: nothing was imported:", *(f"  {e}" for e in exc.errors)]))
    bar = Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), disable=as_json)
    with bar:
        task = bar.add_task("rows", total=len(rows))
        report = with_db(settings, lambda db: importer.import_contacts(
            db, tenant_id, rows, update=update, progress=lambda n: bar.advance(task, n)))
    lines = [f"{report.added} added, {report.updated} updated, {len(report.rejected)} rejected"]
    lines += [f"  line {line}: {reason}" for line, reason in report.rejected]
    print_result(report.as_dict(), as_json, "\n".join(lines))
    if report.rejected:
        sys.exit(1)


@contacts.command("export")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: standard output.")
@click.pass_obj
def contacts_export(settings: Settings, tenant_id: str, output: Path | None) -> None:
    """The tenant's contacts as CSV, in the columns import reads."""
    rows = with_db(settings, lambda db: importer.export_rows(db, tenant_id))
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=importer.COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if output is None:
        click.echo(out.getvalue(), nl=False)
        return
    output.write_text(out.getvalue(), encoding="utf-8", newline="")
    click.echo(f"{len(rows)} contacts written to {output}", err=True)

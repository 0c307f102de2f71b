"""`voicectl label`, `voicectl contacts import|export` and `voicectl album` on SQLite and on
PostgreSQL (the `cli` fixture of test_cli)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.unit.test_cli import _reset_postgres, cli, tenant  # noqa: F401 (fixtures)

HEADER = "phone,phone_type,labels,first_name,last_name,email,exp,notes,field_a\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_labels_are_created_and_listed_per_tenant(cli, tenant: str) -> None:
    assert cli("label", "create", "2", "VIP", "--tenant", tenant).output == f"label 2 created for {tenant}: VIP\n"
    assert cli("label", "create", "7", "--tenant", tenant).exit_code == 0
    again = cli("label", "create", "2", "--tenant", tenant)
    assert again.exit_code == 1 and "label 2 already exists" in again.output
    assert "label numbers are whole numbers" in cli("label", "create", "0", "--tenant", tenant).output
    listed = json.loads(cli("label", "list", "--tenant", tenant, "--json").output)
    assert listed == [{"label": 2, "name": "VIP", "contacts": 0}, {"label": 7, "name": "", "contacts": 0}]
    other = json.loads(cli("tenant", "create", "Other", "--json").output)["id"]
    assert cli("label", "list", "--tenant", other).output == "no labels\n"
    assert cli("label", "list", "--tenant", "ten_nope").exit_code == 1


def test_import_takes_good_rows_whole_and_reports_every_rejected_one(cli, tenant: str, tmp_path: Path) -> None:
    cli("label", "create", "2", "--tenant", tenant)
    cli("label", "create", "3", "--tenant", tenant)
    path = write(tmp_path / "in.csv", HEADER +
                 '"7325550184:M;6465557729",H,2;3,John,Doe,john@example.com,2026-02-01,"two\nlines",A1\n'  # line 2-3
                 "8451234567,,,Ann,,,,,\n"  # line 4: the document's sample number
                 "5551234567,,,Bad,,,,,\n"  # line 5: area code not in service
                 "2125550100,,9,NoLabel,,,,,\n"  # line 6: no label 9
                 "6465557729,,,Again,,,,,\n"  # line 7: on line 2 already
                 "2125550101,,,,,not-an-email,2026-13-01,,\n"  # line 8: two problems
                 ",,,NoPhone,,,,,\n")  # line 9
    out = cli("contacts", "import", str(path), "--tenant", tenant, "--json")
    assert out.exit_code == 1  # some rows were rejected
    report = json.loads(out.output[out.output.index("{"):])
    assert (report["added"], report["updated"]) == (2, 0)
    assert [(r["line"], r["reason"]) for r in report["rejected"]] == [
        (5, "'5551234567' is not a phone number (unallocated_nanp)"),
        (6, "no such label: 9"),
        (7, "phone 6465557729 is also on line 3"),
        (8, "email must look like name@example.com, not 'not-an-email'; "
            "exp must be a date as YYYY-MM-DD, not '2026-13-01'"),
        (9, "no phone"),
    ]
    exported = list(csv.DictReader(io.StringIO(cli("contacts", "export", "--tenant", tenant).output)))
    assert [(r["phone"], r["labels"], r["first_name"], r["notes"], r["exp"], r["field_a"]) for r in exported] == [
        ("7325550184:M;6465557729:H", "2;3", "John", "two\nlines", "2026-02-01", "A1"),
        ("8451234567:H", "", "Ann", "", "", "")]
    assert json.loads(cli("label", "list", "--tenant", tenant, "--json").output)[0]["contacts"] == 1


def test_a_phone_already_on_a_contact_is_rejected_unless_update(cli, tenant: str, tmp_path: Path) -> None:
    cli("label", "create", "4", "--tenant", tenant)
    write(tmp_path / "first.csv", "phone,first_name,last_name\n7325550184,John,Doe\n")
    assert cli("contacts", "import", str(tmp_path / "first.csv"), "--tenant", tenant).exit_code == 0
    again = write(tmp_path / "again.csv", "phone,first_name,last_name,labels\n"
                                          "7325550184;2125550100,Jon,,4\n6465557729,New,,\n")
    out = cli("contacts", "import", str(again), "--tenant", tenant)
    assert out.exit_code == 1
    assert "1 added, 0 updated, 1 rejected" in out.output
    assert "line 2: phone 7325550184 already belongs to a contact (--update updates it)" in out.output
    # --update: non-empty cells overwrite (last_name stays), new phones and labels are added.
    out = cli("contacts", "import", str(again), "--tenant", tenant, "--update")
    assert out.exit_code == 0 and "0 added, 2 updated, 0 rejected" in out.output
    rows = list(csv.DictReader(io.StringIO(cli("contacts", "export", "--tenant", tenant).output)))
    assert [(r["phone"], r["first_name"], r["last_name"], r["labels"]) for r in rows] == [
        ("7325550184:H;2125550100:H", "Jon", "Doe", "4"), ("6465557729:H", "New", "", "")]


def test_export_imports_back_as_it_was(cli, tenant: str, tmp_path: Path) -> None:
    cli("label", "create", "2", "--tenant", tenant)
    rows = "".join(f"+1212555{n:04d}:M;+1646555{n:04d},,2,Name {n},,,,\"note, {n}\",x\n" for n in range(2000))
    assert cli("contacts", "import", str(write(tmp_path / "in.csv", HEADER + rows)), "--tenant",
               tenant).exit_code == 0
    exported = cli("contacts", "export", "--tenant", tenant, "--output", str(tmp_path / "out.csv"))
    assert exported.exit_code == 0 and "2000 contacts written" in exported.output
    other = json.loads(cli("tenant", "create", "Other", "--json").output)["id"]
    cli("label", "create", "2", "--tenant", other)
    assert cli("contacts", "import", str(tmp_path / "out.csv"), "--tenant", other).exit_code == 0
    assert cli("contacts", "export", "--tenant", other).output == (tmp_path / "out.csv").read_text()


def test_a_file_that_cannot_be_read_imports_nothing(cli, tenant: str, tmp_path: Path) -> None:
    for content, error in [(b"phone,nickname\n7325550184,x\n", "unknown column 'nickname'"),
                           (b"first_name\nJohn\n", "the header has no `phone` column"),
                           (b"phone\n7325550184\n\xff\n", "the file is not UTF-8 text (byte 17)")]:
        path = tmp_path / "bad.csv"
        path.write_bytes(content)
        out = cli("contacts", "import", str(path), "--tenant", tenant)
        assert out.exit_code == 1 and "nothing was imported" in out.output and error in out.output, out.output
    assert cli("contacts", "export", "--tenant", tenant).output == ",".join(
        ["phone", "phone_type", "labels", "first_name", "last_name", "email", "notes", "exp", "address", "city",
         "state", "zip", *(f"field_{c}" for c in "abcdefghij")]) + "\n"
    assert cli("contacts", "import", str(write(tmp_path / "ok.csv", "phone\n7325550184\n")), "--tenant",
               "ten_nope").exit_code == 1


def test_albums_are_listed_with_optional_names(cli, tenant: str, tmp_path: Path) -> None:
    from tests.unit.test_recordings_service import make_wav

    make_wav(tmp_path / "a.wav", 0.5)
    for _ in range(2):
        assert cli("recordings", "add", str(tmp_path / "a.wav"), "--tenant", tenant, "--album", "3").exit_code == 0
    assert cli("album", "name", "3", "Greetings", "--tenant", tenant).exit_code == 0
    assert cli("album", "name", "9", "Later", "--tenant", tenant).exit_code == 0
    listed = json.loads(cli("album", "list", "--tenant", tenant, "--json").output)
    assert [(a["number"], a["name"], a["recordings"], round(a["seconds"], 1)) for a in listed] == [
        (3, "Greetings", 2, 1.0), (9, "Later", 0, 0.0)]
    assert cli("album", "name", "9", "--tenant", tenant).exit_code == 0  # unnamed: gone from the list
    assert [a["number"] for a in json.loads(cli("album", "list", "--json").output)] == [3]
    assert "must not contain control" in cli("album", "name", "3", "a\x1bb", "--tenant", tenant).output


def test_update_rows_reaching_one_contact_twice_and_repeated_columns_are_reported(cli, tenant: str,
                                                                                   tmp_path: Path) -> None:
    write(tmp_path / "first.csv", "phone\n7325550184;6465557729\n")
    assert cli("contacts", "import", str(tmp_path / "first.csv"), "--tenant", tenant).exit_code == 0
    again = write(tmp_path / "again.csv", "phone,first_name\n7325550184,Ann\n6465557729,Bob\n")
    out = cli("contacts", "import", str(again), "--tenant", tenant, "--update")
    assert out.exit_code == 1 and "0 added, 1 updated, 1 rejected" in out.output
    assert "line 3: updates the same contact as line 2" in out.output
    rows = list(csv.DictReader(io.StringIO(cli("contacts", "export", "--tenant", tenant).output)))
    assert [r["first_name"] for r in rows] == ["Ann"]
    out = cli("contacts", "import", str(write(tmp_path / "dup.csv", "phone,phone\n1,2\n")), "--tenant", tenant)
    assert out.exit_code == 1 and "column 'phone' is given twice" in out.output


def test_a_hostile_file_is_refused_in_a_few_short_lines(cli, tenant: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # A header of a hundred 5,000-character names: each quoted short, and only the first few.
    path = write(tmp_path / "wide.csv", "phone," + ",".join(f"{n}{'D' * 5000}" for n in range(100)) + "\n1\n")
    out = cli("contacts", "import", str(path), "--tenant", tenant)
    assert out.exit_code == 1 and "nothing was imported" in out.output
    assert len(out.output) < 2000, out.output[:300]
    assert "and 90 more problems" in out.output
    # A cell past the CSV reader's limit stops the file where it is.
    big = write(tmp_path / "big.csv", "phone,notes\n7325550184,ok\n7325550185,\"" + "x" * 200_000 + "\"\n")
    out = cli("contacts", "import", str(big), "--tenant", tenant)
    assert out.exit_code == 1 and "line 3: field larger than field limit" in out.output
    # A file larger than an import may be is refused before it is read.
    monkeypatch.setattr("control.contacts.importer.MAX_FILE_BYTES", 100)
    many = write(tmp_path / "many.csv", "phone\n" + "7325550184\n" * 20)
    out = cli("contacts", "import", str(many), "--tenant", tenant)
    assert out.exit_code == 1 and "larger than the 100 bytes an import may be" in out.output
    assert cli("contacts", "export", "--tenant", tenant).output.count("\n") == 1  # the header alone


def test_an_import_killed_mid_file_leaves_only_whole_rows_and_a_rerun_finishes_it(tmp_path: Path) -> None:
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    env = {**os.environ, "VOICECTL_DATA_DIR": str(tmp_path / "data"), "VOICECTL_AMI_PORT": "1"}
    env.pop("DATABASE_URL", None)

    def voicectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "control.cli", *args], env=env, text=True, capture_output=True)

    tenant = json.loads(voicectl("tenant", "create", "Kill", "--json").stdout)["id"]
    voicectl("label", "create", "1", "--tenant", tenant)
    rows = 30_000
    csv_path = write(tmp_path / "in.csv", "phone,labels,first_name\n" + "".join(
        f"+1212{200 + n // 10000}{n % 10000:04d};+1646{200 + n // 10000}{n % 10000:04d}:M,1,N{n}\n"
        for n in range(rows)))
    db = tmp_path / "data" / "voicectl.db"  # the embedded default's file

    def counts() -> tuple[int, int, int]:
        with sqlite3.connect(db, timeout=30) as conn:
            return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                         for t in ("contacts", "contact_phones", "contact_labels"))  # type: ignore[return-value]

    proc = subprocess.Popen([sys.executable, "-m", "control.cli", "contacts", "import", str(csv_path), "--tenant",
                             tenant, "--json"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while counts()[0] == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    contacts, phones, labels = counts()
    assert 0 < contacts < rows, "killed mid-file"
    assert (phones, labels) == (2 * contacts, contacts), "every row written is whole"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM contacts c WHERE NOT EXISTS "
                            "(SELECT 1 FROM contact_phones p WHERE p.contact_id = c.id)").fetchone()[0] == 0
    # Run again: the rows already in are rejected as such (--update would update them), the rest added.
    again = voicectl("contacts", "import", str(csv_path), "--tenant", tenant, "--json")
    report = json.loads(again.stdout)
    assert (report["added"], len(report["rejected"])) == (rows - contacts, contacts)
    assert all("already belongs to a contact" in r["reason"] for r in report["rejected"])
    assert counts() == (rows, 2 * rows, rows)

"""Tables. Phone numbers are stored E.164; ids are prefixed strings (ten_, trk_) except calls,
whose id is Asterisk's channel id so logs, ARI and the database agree on one name."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, DateTime, Float, ForeignKey, ForeignKeyConstraint,
                        Index, Integer, String, Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Only a hash of the Auth-Key is kept; the key itself is shown once, at creation.
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # IANA name: webhooks' `date_time` is the tenant's local time.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Signs the tenant's webhooks. Kept as is, unlike the Auth-Key: signing needs the secret itself.
    signing_secret: Mapped[str] = mapped_column(String(128))
    # The trunk transfers to phone numbers go through (a trunk's name; None: such transfers
    # are refused). Not a foreign key: removing a trunk a tenant uses is refused by the service.
    outbound_trunk: Mapped[str | None] = mapped_column(String(64))
    # Country calling codes transfers may dial ([1, 44]); None: those of the tenant's own numbers.
    allowed_countries: Mapped[list[str] | None] = mapped_column(JSON)
    # Inbound SMS are POSTed here (signed like trigger requests); None: stored only.
    sms_webhook: Mapped[str | None] = mapped_column(String(2000))
    # How fast the tenant's notification calls and messages go out, and how many of its calls
    # may be up at once (control/notify/dispatcher.py).
    calls_per_second: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    messages_per_second: Mapped[float] = mapped_column(Float, default=10.0, server_default="10")
    max_calls: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    # When broadcasts may reach NANP numbers, in each recipient's local time ("08:00-21:00").
    send_window: Mapped[str] = mapped_column(String(11), default="08:00-21:00", server_default="08:00-21:00")


class Trunk(Base):
    """A SIP peer. Inbound calls are taken from it by source address alone (`matches`); calls
    and registrations go to `target_host:target_port`. Its digest password, when it has one,
    is kept in the data directory (control/trunks/passwords.py), never here."""

    __tablename__ = "trunks"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    matches: Mapped[list[str]] = mapped_column(JSON)  # addresses and CIDRs
    target_host: Mapped[str] = mapped_column(String(255))  # an address or a DNS name
    target_port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    register: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Number(Base):
    __tablename__ = "numbers"
    e164: Mapped[str] = mapped_column(String(20), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ivr(Base):
    __tablename__ = "ivrs"
    number: Mapped[str] = mapped_column(ForeignKey("numbers.e164", ondelete="CASCADE"), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Call(Base):
    __tablename__ = "calls"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(40), index=True)
    direction: Mapped[str] = mapped_column(String(10))
    number: Mapped[str] = mapped_column(String(32), index=True)
    caller_id: Mapped[str] = mapped_column(String(64))
    caller_name: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_text: Mapped[str | None] = mapped_column(String(64))
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    branch_data: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # The control-plane node whose Asterisk carried the call: reconcile closes only its own.
    node: Mapped[str] = mapped_column(String(64), index=True, default="", server_default="")
    # Why the platform ended or refused the call, when it did (an error, overload, shutdown).
    reason: Mapped[str | None] = mapped_column(String(200))
    # Every webhook exchange (url, status, ms, reason, answer), so a flow can be debugged
    # without logs; bounded by the recorder (calls/recorder.py).
    exchanges: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    # The call's variables as they stood when it ended.
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    # A far leg (a transfer's outbound call) names the call it was dialled for.
    parent_id: Mapped[str | None] = mapped_column(String(64), index=True)


class CallDeadLetter(Base):
    """A call record change the database refused, kept with the reason instead of lost."""

    __tablename__ = "call_dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "start" or "end"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Recording(Base):
    """A recording in a tenant's album library. An album is only a number: it exists while it
    has recordings. The audio is `recordings/<id>-<digest>.wav` in the data directory; the
    digest names the content, so a URL built from it never plays stale audio from a cache."""

    __tablename__ = "recordings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "album", "sort", name="uq_recordings_tenant_album_sort"),
        CheckConstraint("album >= 1", name="ck_recordings_album"),
        CheckConstraint("sort >= 1", name="ck_recordings_sort"),
        # Ids are never reused (SQLite would reuse the highest after a delete): an integrator
        # deleting a recording twice must not delete the one made after it.
        {"sqlite_autoincrement": True},
    )
    # Numeric: the Voitex upload answers with it as a numeric string ("data": "918357").
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    album: Mapped[int] = mapped_column(Integer)
    sort: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    seconds: Mapped[float] = mapped_column(Float)
    bytes: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Album(Base):
    """An album's optional name. An album exists while it has recordings; a row here only
    names it (`voicectl album name`), so an unnamed album needs none."""

    __tablename__ = "albums"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Contact(Base):
    """A tenant's contact, found by any of its phones (Voitex's Contacts API). Text fields are
    "" when unset, as the API answers them; `exp` is a date or None."""

    __tablename__ = "contacts"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    exp: Mapped[date | None] = mapped_column(Date)
    address: Mapped[str] = mapped_column(String(255), default="")
    city: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(255), default="")
    zip: Mapped[str] = mapped_column(String(255), default="")
    field_a: Mapped[str] = mapped_column(String(255), default="")
    field_b: Mapped[str] = mapped_column(String(255), default="")
    field_c: Mapped[str] = mapped_column(String(255), default="")
    field_d: Mapped[str] = mapped_column(String(255), default="")
    field_e: Mapped[str] = mapped_column(String(255), default="")
    field_f: Mapped[str] = mapped_column(String(255), default="")
    field_g: Mapped[str] = mapped_column(String(255), default="")
    field_h: Mapped[str] = mapped_column(String(255), default="")
    field_i: Mapped[str] = mapped_column(String(255), default="")
    field_j: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ContactPhone(Base):
    """A phone of a contact, E.164. A phone belongs to one contact per tenant: the unique key
    says so, so two requests adding one phone at once cannot both succeed."""

    __tablename__ = "contact_phones"
    __table_args__ = (UniqueConstraint("tenant_id", "phone", name="uq_contact_phones_tenant_phone"),
                      CheckConstraint("type IN ('H', 'M')", name="ck_contact_phones_type"))
    # Autoincrement: a contact's phones are answered in the order they were added.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(1))


class Label(Base):
    """A tenant's contact label, known by its number (Voitex refers to labels by number only)."""

    __tablename__ = "labels"
    __table_args__ = (CheckConstraint("number >= 1", name="ck_labels_number"),)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ContactLabel(Base):
    """A contact's membership of a label: deleting either side deletes it, never the other."""

    __tablename__ = "contact_labels"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "label_number"], ["labels.tenant_id", "labels.number"],
                                           ondelete="CASCADE", name="fk_contact_labels_label"),
                      # A label's members, for broadcasts to a label.
                      Index("ix_contact_labels_label", "tenant_id", "label_number"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    label_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The label's key is (tenant, number): a contact can only join its own tenant's labels.
    tenant_id: Mapped[str] = mapped_column(String(40))


class DoNotCall(Base):
    """A number the tenant must not call (Notify's `dnc`), nor message."""

    __tablename__ = "do_not_call"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SmsOptOut(Base):
    """A number that texted STOP to one of the tenant's numbers: never sent its messages again,
    whatever a request says, until it texts START."""

    __tablename__ = "sms_opt_outs"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InboundMessage(Base):
    """An SMS that reached one of the tenant's numbers, kept before its webhook is tried."""

    __tablename__ = "inbound_messages"
    id: Mapped[str] = mapped_column(String(20), primary_key=True)  # the reference id
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    from_number: Mapped[str] = mapped_column(String(64))
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # "pending" until the tenant's webhook answered 2xx ("delivered"), gave up on ("failed"),
    # or there is none ("none").
    webhook: Mapped[str] = mapped_column(String(10), index=True)
    webhook_detail: Mapped[str | None] = mapped_column(String(200))


class Broadcast(Base):
    """One sending request: a notification call, an SMS, or a Notify batch or group. Its
    recipients are Delivery rows, all written with it in one transaction."""

    __tablename__ = "broadcasts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # group_id, batch_id or reference
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[str] = mapped_column(String(20))
    route: Mapped[str] = mapped_column(String(10))  # "single" or "group" (Notify), "call", "sms"
    type: Mapped[str] = mapped_column(String(4))  # "SMS" or "CALL"
    mode: Mapped[str] = mapped_column(String(10))  # "single", "phones", "label"
    title: Mapped[str] = mapped_column(String(200))
    from_number: Mapped[str] = mapped_column(String(20))
    # What each recipient gets: {"body"} or {"call_type", "album", "sort" | "route_number",
    # "branch_number", "greeting", "variables"}.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    check_dnc: Mapped[bool] = mapped_column(Boolean)
    held: Mapped[bool] = mapped_column(Boolean)  # NANP recipients wait for the send window
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[int] = mapped_column(Integer)


class Delivery(Base):
    """One recipient of a broadcast, and how reaching it went. `state` moves queued ->
    sending (claimed by `node`, committed before anything is sent) -> a final state, or back
    to queued for a retry; a claim its node died holding becomes `interrupted`."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "state", "kind", "next_at"),
                      Index("ix_deliveries_broadcast", "broadcast_id", "state"),
                      {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    broadcast_id: Mapped[str] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # its reference_id
    kind: Mapped[str] = mapped_column(String(4))  # "SMS" or "CALL"
    phone: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    node: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last attempt: its call id, cause, SIP code, error.
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

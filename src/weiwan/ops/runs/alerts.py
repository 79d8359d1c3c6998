"""Alerts to the administrators about the daily run: a failed (or partly failed) run, and a
day whose publication is not there by its due time (``publication_due``, the same check as
``/readyz``). Sent by mail (SMTP) and by SMS through the SMS gateway to the addresses and
numbers in the settings; each alert once (its key: the run, or the late local day), recorded
in ``run_alerts`` with who was told and what failed on the way.

Staff SMS do not go through ``sms_messages``: those are contacts with customers, counted by the
contact policy. They go straight to the gateway (with the embedded outbox gateway: appended to
``<home>/var/alert-sms.jsonl`` for a forwarder). An alert that cannot be delivered never
changes what the daily run did or its exit code; the failure is recorded with the alert.
"""

from __future__ import annotations

import json
import smtplib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from weiwan.core.settings import Settings
from weiwan.ops.base import as_utc
from weiwan.ops.health.service import readiness
from weiwan.ops.org.access import Actor
from weiwan.ops.runs.models import DailyRun, RunAlert
from weiwan.ops.runs.service import READERS
from weiwan.ops.sms.gateway import OutboxGateway, OutgoingSms, SmsGateway, gateway_from_settings
from weiwan.ops.tasks.due import local_today

#: seconds the mail server may take to answer
SMTP_TIMEOUT_S = 15.0
#: an SMS alert's text is cut to this many characters (a few SMS segments)
SMS_CHARS = 300


@dataclass
class Delivery:
    """Who an alert reached and what failed on the way."""

    sent: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _targets(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def configured(settings: Settings) -> bool:
    """Whether any mail address or phone number is set to receive alerts."""
    return bool(_targets(settings.alert_emails) or _targets(settings.alert_phones))


def failed_run_text(run: DailyRun) -> tuple[str, str]:
    """Subject and body of the alert about ``run`` (in Chinese, then English: the staff who
    read it may use either)."""
    status_zh = "部分失败" if run.status == "partly_failed" else "失败"
    status_en = "partly failed" if run.status == "partly_failed" else "failed"
    subject = (
        f"[weiwan] 日常运行{status_zh} / daily run {status_en}: {run.snapshot_date.isoformat()}"
    )
    body = (
        f"数据日期 snapshot: {run.snapshot_date.isoformat()}\n"
        f"运行 run: {run.id} ({run.host})\n"
        f"失败步骤 failed step: {run.failed_step or '-'}\n"
        f"错误 error: {run.error or '-'}\n"
        "修复后再次运行 weiwan daily 会从失败的步骤继续。\n"
        "Run `weiwan daily` again once fixed: it resumes at the failed step.\n"
    )
    return subject, body


def late_text(day: str, due: str, latest: datetime | None, tz: ZoneInfo) -> tuple[str, str]:
    """Subject and body of the alert about a day not published by ``due``."""
    subject = f"[weiwan] 今日数据未按时发布 / today's publication is late: {day}"
    last = latest.astimezone(tz).strftime("%Y-%m-%d %H:%M") if latest else "-"
    body = (
        f"日期 day: {day}\n"
        f"应于 due by: {due}\n"
        f"最近一次发布 latest publication: {last}\n"
        "请查看运行记录（管理 → 日常运行）或 weiwan daily 的输出。\n"
        "See the run history (Admin → Daily runs) or the output of `weiwan daily`.\n"
    )
    return subject, body


def send(
    settings: Settings, subject: str, body: str, gateway: SmsGateway | None = None
) -> Delivery:
    """Mail ``subject`` and ``body`` to every alert address and text the subject to every alert
    number; what could not be sent is in the answer's ``errors``, never raised."""
    done = Delivery()
    emails, phones = _targets(settings.alert_emails), _targets(settings.alert_phones)
    if emails:
        try:
            _mail(settings, emails, subject, body)
            done.sent += [f"mail:{e}" for e in emails]
        except (OSError, smtplib.SMTPException) as exc:
            done.errors.append(f"mail: {type(exc).__name__}: {exc}"[:500])
    if phones:
        try:
            gateway = gateway or _gateway(settings)
            text = subject[:SMS_CHARS]
            # staff messages have no outbox row: numbered -1, -2, … to match the answers
            numbered = {-(i + 1): phone for i, phone in enumerate(phones)}
            results = gateway.send([OutgoingSms(i, p, text) for i, p in numbered.items()])
            for result in results:
                phone = numbered.get(result.message_id, "?")
                if result.ok:
                    done.sent.append(f"sms:{phone}")
                else:
                    done.errors.append(f"sms {phone}: {result.error or 'refused'}"[:500])
        except Exception as exc:  # any gateway failure is recorded, never raised
            done.errors.append(f"sms: {type(exc).__name__}: {exc}"[:500])
    return done


def _mail(settings: Settings, to: list[str], subject: str, body: str) -> None:
    if not settings.smtp_host:
        raise smtplib.SMTPException("smtp_host is not set")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, ", ".join(to), subject
    message.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)


def _gateway(settings: Settings) -> SmsGateway:
    """The configured gateway; the outbox one writes staff alerts to a file for a forwarder
    (they have no row in the customers' outbox)."""
    if settings.sms_gateway == "outbox":
        return OutboxGateway(settings.home / "var" / "alert-sms.jsonl")
    return gateway_from_settings(settings)


def _claim(session: Session, key: str, kind: str, subject: str, run_id: int | None) -> bool:
    """Record the alert under ``key``; False when it was made before (also by a parallel
    process: the key is unique)."""
    if session.scalar(select(RunAlert.id).where(RunAlert.key == key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(RunAlert(key=key, kind=kind, run_id=run_id, subject=subject[:300]))
    except IntegrityError:
        return False
    return True


def _record(session: Session, key: str, done: Delivery) -> None:
    alert = session.scalars(select(RunAlert).where(RunAlert.key == key)).one()
    alert.delivery = json.dumps({"sent": done.sent, "errors": done.errors}, ensure_ascii=False)


def _tell_once(
    session: Session,
    settings: Settings,
    key: str,
    kind: str,
    subject: str,
    body: str,
    run_id: int | None,
) -> Delivery | None:
    """Send the alert under ``key`` unless it was made before; None when it was."""
    if not _claim(session, key, kind, subject, run_id):
        return None
    session.commit()  # claimed before sending: a crash after sending must not send twice
    done = send(settings, subject, body)
    _record(session, key, done)
    return done


def alert_failed_run(session: Session, settings: Settings, run_id: int) -> Delivery | None:
    """Tell the administrators that run ``run_id`` failed or partly failed (once); None when
    it succeeded, nobody is configured or it was told before."""
    run = session.get_one(DailyRun, run_id)
    if run.status not in ("failed", "partly_failed") or not configured(settings):
        return None
    subject, body = failed_run_text(run)
    return _tell_once(session, settings, f"failed:run:{run.id}", "failed", subject, body, run.id)


def alert_if_late(session: Session, settings: Settings, now: datetime) -> Delivery | None:
    """Tell the administrators once a day when that day's publication is not there by
    ``publication_due`` (local time); None when it is there, not yet due, nobody is
    configured, or they were told today already."""
    tz = ZoneInfo(settings.timezone)
    state = readiness(session, now, tz, settings.publication_due)
    if state.publication != "late" or not configured(settings):
        return None
    day = local_today(tz, now).isoformat()
    subject, body = late_text(
        day, settings.publication_due.strftime("%H:%M"), state.latest_publication, tz
    )
    return _tell_once(session, settings, f"late:{day}", "late", subject, body, None)


def alert_unreachable(settings: Settings, now: datetime, error: str) -> Delivery | None:
    """Tell the administrators once a day that the operational database cannot be reached at
    the time the day should be published by (no table to record it in: a marker file in
    ``<home>/var/alerts`` keeps it to once); None before the due time or when told today."""
    tz = ZoneInfo(settings.timezone)
    if as_utc(now).astimezone(tz).time() < settings.publication_due or not configured(settings):
        return None
    day = local_today(tz, now).isoformat()
    marker = settings.home / "var" / "alerts" / f"unreachable-{day}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        marker.touch(exist_ok=False)
    except FileExistsError:
        return None
    subject = f"[weiwan] 运营数据库无法连接 / the operational database is unreachable: {day}"
    body = (
        f"错误 error: {error}\n"
        "今日数据无法确认是否已发布。\nToday's publication cannot be checked.\n"
    )
    return send(settings, subject, body)


def latest_alerts(session: Session, actor: Actor, limit: int = 20) -> list[RunAlert]:
    """The latest alerts, newest first (administrators, directors: the runs page)."""
    actor.require(*READERS)
    return list(session.scalars(select(RunAlert).order_by(RunAlert.id.desc()).limit(limit)))

"""民情日报告: each morning, supervisors get their area's day and workers what they hold."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from routing.desk import Desk
from routing.notices import Notice, Notifier, Priority
from routing.views import request_view
from storage.uow import UnitOfWork

JOB = "digest"
# A digest missed by a program that was down goes out late, but not in the afternoon.
CATCH_UP = timedelta(hours=4)


class DailyDigest:
    """Builds and queues the morning digest once per day, whichever process gets there first."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def due_day(self, now: datetime) -> date | None:
        """The local day whose digest should have gone by `now` (None before today's time)."""
        local = self.desk.calendar.local(now)
        due = datetime.combine(local.date(), self.desk.config.digest_at, tzinfo=local.tzinfo)
        return local.date() if due <= local < due + CATCH_UP else None

    async def run(self, day: date) -> int:
        """Queue the digest of `day`; returns the number of people told (0 if it already ran)."""
        now = self.desk.clock()
        since = now - timedelta(days=1)
        try:
            async with self.desk.uow() as uow:
                if await uow.runs.has_run(JOB, day.isoformat()):
                    return 0
                await uow.runs.mark_run(JOB, day.isoformat(), now)
                notify = Notifier(uow, self.desk.clock)
                told = 0
                for person in await uow.staff.all():
                    if not person.active or person.telegram_id is None:
                        continue
                    if person.role == "supervisor":
                        facts = await self._area(uow, person.unit_kind, person.unit_id, since,
                                                 now)
                        notify.plain([person], Notice.DIGEST_SUPERVISOR, Priority.DIGEST,
                                     day=day.isoformat(), **facts)
                        told += 1
                    elif person.role == "worker":
                        rows = await uow.requests.held_by_worker(person.id, [person.unit_id])
                        views = [await request_view(uow, r, self.desk.taxonomy) for r in rows]
                        notify.plain([person], Notice.DIGEST_WORKER, Priority.DIGEST,
                                     day=day.isoformat(),
                                     held=[v.as_dict() for v in views[:30]], count=len(views))
                        told += 1
                await uow.commit()
                return told
        except IntegrityError:
            return 0  # another process ran today's digest at the same moment

    async def _area(self, uow: UnitOfWork, kind: str, unit_id: str, since: datetime,
                    now: datetime) -> dict[str, object]:
        repo = uow.requests
        overdue = await repo.in_area(kind, unit_id, overdue_at=now, limit=20)
        area = await uow.organisation.area(unit_id)
        return {
            "area": area.name if area else unit_id,
            "new": await repo.count_in_area(kind, unit_id, "created_at", since),
            "accepted": await repo.count_in_area(kind, unit_id, "accepted_at", since),
            "resolved": await repo.count_in_area(kind, unit_id, "resolved_at", since),
            "escalated": await repo.escalated_in_area(kind, unit_id, since),
            "overdue": [
                {"number": r.id, "text": r.text[:40], "level": r.level} for r in overdue
            ],
        }

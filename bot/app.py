"""The composition root: builds bot, dispatcher, database, desk, sender and scheduler together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import system_clock
from bot.fsm_storage import DatabaseStorage
from bot.intake import DurableIntake
from bot.limiter import FloodLimiter
from bot.process_lock import ProcessLock
from bot.sender import STALE_CLAIM_S, OutboxSender
from bot.settings import TELEGRAM_API, Settings
from bot.timers import Timers
from bot.webhook import webhook_app
from handlers import build_router
from handlers.render import Renderer
from routing.clockwork import Clockwork
from routing.desk import Desk
from routing.digest import DailyDigest
from routing.keywords import build_classifier
from routing.organisation import sync_organisation
from routing.orgconfig import OrgConfig, load_org_config
from routing.sla import WorkCalendar
from storage.db import create_engine, is_sqlite, session_factory
from storage.lease import AdvisoryLease
from storage.migrate import upgrade
from storage.repositories import OrgCache
from storage.uow import UnitOfWork, WriterGate

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass
class App:
    """One running huying: everything built once and handed to whoever needs it."""

    settings: Settings
    config: OrgConfig
    engine: AsyncEngine
    desk: Desk
    bot: Bot
    dispatcher: Dispatcher
    sender: OutboxSender
    scheduler: AsyncIOScheduler
    timers: Timers
    intake: DurableIntake
    uow: Callable[[], UnitOfWork]
    lock: ProcessLock | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start_background(self) -> None:
        """Start the sender and the scheduler (the dispatcher is started by the caller)."""
        self.tasks.append(asyncio.create_task(self.sender.run(), name="outbox-sender"))
        # A safety net: even if a wake-up is missed, the outbox is looked at regularly.
        self.scheduler.add_job(self._wake_sender, "interval", seconds=5, id="outbox-sweep",
                               replace_existing=True)
        # And updates a standby announced while the leader missed it are handled in time.
        self.scheduler.add_job(self.intake.dispatch_pending, "interval", seconds=30,
                               id="inbox-sweep", replace_existing=True, coalesce=True)
        self.timers.start()
        self.scheduler.start()

    async def _wake_sender(self) -> None:
        # A coroutine, so APScheduler runs it on the event loop rather than in a thread.
        self.sender.wake()

    async def run_polling(self) -> None:
        await self.start_background()
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
            await self.intake.run_polling()
        finally:
            await self.close()

    async def run_webhook(self) -> None:
        """Serve Telegram's webhook calls until stopped; register the webhook first."""
        settings = self.settings
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        if not settings.webhook_url or not secret:
            raise SystemExit("webhook mode needs HUYING_WEBHOOK_URL and HUYING_WEBHOOK_SECRET "
                             "(any long random string; Telegram sends it back in a header).")
        await self.start_background()
        runner = web.AppRunner(webhook_app(self.intake, settings.webhook_path, secret))
        await runner.setup()
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        try:
            await site.start()
            await self.intake.dispatch_pending()  # recorded before a crash, not yet handled
            await self.bot.set_webhook(
                settings.webhook_url, secret_token=secret,
                allowed_updates=self.dispatcher.resolve_used_update_types())
            log.info("webhook listening on %s:%s%s", settings.webhook_host,
                     settings.webhook_port, settings.webhook_path)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            await self.close()

    async def close(self) -> None:
        await self.intake.stop()
        self.sender.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self.tasks.clear()
        await self.bot.session.close()
        await self.engine.dispose()
        if self.lock is not None:
            self.lock.release()


async def open_database(settings: Settings) -> AsyncEngine:
    engine = create_engine(settings.db_url)
    await upgrade(engine)
    return engine


async def build_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    config: OrgConfig | None = None,
) -> App:
    """Load the organisation, migrate and sync the database, and wire everything together."""
    config = config or load_org_config(settings.config_path)
    lock = ProcessLock.for_database(settings.db_url)
    engine = await open_database(settings)
    sessions = session_factory(engine)
    woken: list[Callable[[UnitOfWork], None]] = []

    def after_commit(work: UnitOfWork) -> None:
        for react in woken:
            react(work)

    gate = WriterGate() if is_sqlite(settings.db_url) else None
    cache = OrgCache()

    def uow() -> UnitOfWork:
        return UnitOfWork(sessions, after_commit, gate, cache)

    async with uow() as work:
        report = await sync_organisation(work, config)
        await work.commit()
    cache.clear()  # filled on first use, from what the sync just wrote
    log.info("organisation loaded: %s areas, %s buildings, %s staff; moved %s",
             report.areas, report.buildings, report.staff, list(report.moved_buildings))

    calendar = WorkCalendar(config.timezone)
    classifier = build_classifier(config)
    await asyncio.to_thread(classifier.warm_up)
    desk = Desk(uow, config, classifier, calendar, clock)
    renderer = Renderer(config.timezone, clock)
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    if not token:
        raise SystemExit("HUYING_TELEGRAM_TOKEN is not set: get a token from @BotFather, "
                         "or try `huying demo`, which needs none.")
    api = settings.telegram_api_url.rstrip("/")
    session = AiohttpSession(api=TelegramAPIServer.from_base(api)) if api != TELEGRAM_API \
        else AiohttpSession()
    bot = Bot(token, session=session, default=DefaultBotProperties())
    # One limiter for every call, handlers' replies included: Telegram's limits are per bot.
    if settings.rate_limits:
        bot.session.middleware(FloodLimiter())
    dispatcher = Dispatcher(storage=DatabaseStorage(uow))
    dispatcher.include_router(build_router())
    dispatcher["desk"] = desk
    dispatcher["renderer"] = renderer
    # On PostgreSQL several processes may run; the one holding the lease leads: it handles
    # updates, keeps time and sends (storage/lease.py). The others record and stand by.
    lease = None if is_sqlite(settings.db_url) else AdvisoryLease(engine)
    # On SQLite only this process sends, so a claim left by a crash is stale at once.
    sender = OutboxSender(bot, uow, renderer, clock, batch=settings.sender_batch,
                          stale_claim_s=0 if lock is not None else STALE_CLAIM_S, lease=lease)
    intake = DurableIntake(bot, dispatcher, uow, clock, lease=lease)
    scheduler = AsyncIOScheduler(timezone=config.timezone)
    timers = Timers(scheduler, Clockwork(desk), DailyDigest(desk), leading=lambda: intake.leading)
    woken.append(lambda work: sender.wake() if work.queued_messages else None)
    woken.append(lambda work: timers.consider(work.earliest_step))
    sender.on_lead += [intake.dispatch_pending, timers.wake_job]
    return App(settings=settings, config=config, engine=engine, desk=desk, bot=bot,
               dispatcher=dispatcher, sender=sender, scheduler=scheduler, timers=timers,
               intake=intake, uow=uow, lock=lock)

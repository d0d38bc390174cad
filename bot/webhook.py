"""Webhook mode: Telegram posts updates here; each is recorded before we answer 200."""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web

from bot.intake import DurableIntake

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_app(intake: DurableIntake, path: str, secret: str) -> web.Application:
    """An aiohttp application with the webhook route and a health check."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook call without the right secret from %s", request.remote)
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            update = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        # Recorded and committed before Telegram hears 200: a crash after this loses nothing.
        await intake.record([update])  # handled in the background; Telegram is answered now
        return web.json_response({"ok": True})

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post(path, receive)
    app.router.add_get("/healthz", health)
    return app

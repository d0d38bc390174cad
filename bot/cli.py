"""The `huying` command: run, demo, check-config, classify, invite."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from routing.learnt import CategoryModel, UrgencyModel


def _settings() -> Settings:
    return Settings()


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import build_app
    from routing.orgconfig import ConfigError

    settings = _settings()
    _setup_logging(settings.log_level)

    webhook = args.webhook or bool(settings.webhook_url)

    async def main() -> None:
        app = await build_app(settings)
        await (app.run_webhook() if webhook else app.run_polling())

    try:
        asyncio.run(main())
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    _setup_logging("WARNING")
    return asyncio.run(run_demo(verbose=args.verbose))


def cmd_check_config(args: argparse.Namespace) -> int:
    from routing.keywords import build_classifier
    from routing.orgconfig import ConfigError, load_org_config

    try:
        config = load_org_config(args.file)
        build_classifier(config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        print(f"{args.file}: keywords: {error}", file=sys.stderr)
        return 1
    people = config.all_people()
    unbound = [p.key for p in people if p.telegram_id is None]
    print(f"{args.file}: OK — {config.name}: {len(people)} staff"
          + (f", {len(unbound)} to invite: {', '.join(unbound)}" if unbound else ""))
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from routing.keywords import build_classifier
    from routing.orgconfig import load_org_config

    if args.train_urgency or args.train_category:
        return _train(args.train_urgency or args.train_category, args.output,
                      urgency=bool(args.train_urgency))
    config = load_org_config(args.config or _settings().config_path)
    classifier = build_classifier(config)
    if args.eval is not None:
        from routing.evaluation import run_eval

        return run_eval(classifier, args.eval, sys.stdout, sys.stderr)
    for line in sys.stdin:
        text = line.rstrip("\n")
        result = classifier.classify(text).as_json()
        print(json.dumps(result, ensure_ascii=False), flush=False)
    sys.stdout.flush()
    return 0


def _train(files: list[Path], output: Path | None, *, urgency: bool) -> int:
    """Train the urgency or the category model on labelled files and write it (see
    routing/learnt)."""
    from routing.classifier import normalize
    from routing.evaluation import load_rows
    from routing.learnt import train, train_categories

    # In name order, so that the same files give the same model however they were listed.
    rows = [row for path in sorted(set(files)) for row in load_rows(path)]
    model: UrgencyModel | CategoryModel
    if urgency:
        try:
            model = train((normalize(row.text), row.urgency == "urgent") for row in rows)
        except RuntimeError as error:  # scikit-learn is not installed
            print(error, file=sys.stderr)
            return 2
        output = output or Path("urgency_model.json")
        what = f"{sum(row.urgency == 'urgent' for row in rows)} urgent"
    else:
        model = train_categories((normalize(row.text), row.category) for row in rows)
        output = output or Path("category_model.json")
        what = f"{len({row.category for row in rows})} categories"
    output.write_text(model.to_json(), encoding="utf-8")
    print(f"{output}: trained on {len(rows)} messages ({what}) from "
          f"{len(files)} files; {len(model.weights)} features")
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    from bot.app import open_database
    from routing.organisation import issue_invite, sync_organisation
    from routing.orgconfig import load_org_config
    from storage.db import session_factory
    from storage.uow import UnitOfWork

    settings = _settings()
    config = load_org_config(settings.config_path)

    async def main() -> tuple[str | None, list[str]]:
        engine = await open_database(settings)
        try:
            async with UnitOfWork(session_factory(engine)) as uow:
                await sync_organisation(uow, config)
                token = await issue_invite(uow, args.person)
                await uow.commit()
        finally:
            await engine.dispose()
        return token, [p.key for p in config.all_people()]

    token, keys = asyncio.run(main())
    if token is None:
        print(f"unknown person '{args.person}'. Known: {', '.join(keys)}", file=sys.stderr)
        return 1
    username = settings.bot_username or "<your_bot>"
    print(f"https://t.me/{username}?start=inv-{token}")
    if not settings.bot_username:
        print("(set HUYING_BOT_USERNAME to print the bot's real name in the link)",
              file=sys.stderr)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Every open request must have a future deadline or a finished ladder."""
    from bot.app import open_database
    from bot.clock import system_clock
    from routing.clockwork import Clockwork
    from routing.desk import Desk
    from routing.keywords import build_classifier
    from routing.orgconfig import load_org_config
    from routing.sla import WorkCalendar
    from storage.db import session_factory
    from storage.uow import UnitOfWork

    settings = _settings()
    config = load_org_config(settings.config_path)

    async def main() -> list[str]:
        engine = await open_database(settings)
        try:
            sessions = session_factory(engine)
            desk = Desk(lambda: UnitOfWork(sessions), config, build_classifier(config),
                        WorkCalendar(config.timezone), system_clock)
            return [str(p) for p in await Clockwork(desk).audit()]
        finally:
            await engine.dispose()

    problems = asyncio.run(main())
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} open request(s) have no future step", file=sys.stderr)
        return 1
    print("audit OK: every open request has a future step")
    return 0


def cmd_keywords_suggest(args: argparse.Namespace) -> int:
    """Propose keyword changes learned from recorded corrections (applied only by an admin)."""
    from bot.app import open_database
    from routing.keywords import build_keywords
    from routing.orgconfig import load_org_config
    from routing.suggest import render_yaml, suggest
    from storage.db import session_factory
    from storage.uow import UnitOfWork

    settings = _settings()

    async def main() -> list[tuple[str, str]]:
        engine = await open_database(settings)
        try:
            async with UnitOfWork(session_factory(engine)) as uow:
                return list(await uow.requests.corrections())
        finally:
            await engine.dispose()

    corrections = asyncio.run(main())
    keywords = build_keywords(load_org_config(settings.config_path))
    print(render_yaml(suggest(corrections, keywords, args.min_support), len(corrections)),
          end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="huying", description="呼应: residents' requests, "
                                     "routed to grid workers and up the ladder.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (polling, or webhook when configured)")
    run.add_argument("--webhook", action="store_true",
                     help="serve Telegram's webhook instead of polling (HUYING_WEBHOOK_*)")
    run.set_defaults(func=cmd_run)
    demo = sub.add_parser("demo", help="play a scripted morning on the local emulator")
    demo.add_argument("--verbose", action="store_true")
    demo.set_defaults(func=cmd_demo)
    check = sub.add_parser("check-config", help="validate an organisation file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=cmd_check_config)
    classify = sub.add_parser("classify", help="classify one text per stdin line as JSON lines")
    classify.add_argument("--config", type=Path, default=None)
    classify.add_argument("--eval", type=Path, default=None, metavar="FILE",
                          help="score a labelled JSON-lines file (text, category, urgency)")
    trains = classify.add_mutually_exclusive_group()
    trains.add_argument("--train-urgency", type=Path, nargs="+", default=None,
                          metavar="FILE", help="train the urgency model on labelled files")
    trains.add_argument("--train-category", type=Path, nargs="+", default=None,
                          metavar="FILE", help="train the category model on labelled files")
    classify.add_argument("--output", type=Path, default=None,
                          help="where the model is written (default urgency_model.json or "
                               "category_model.json)")
    classify.set_defaults(func=cmd_classify)
    invite = sub.add_parser("invite", help="print a one-time invite link for a staff member")
    invite.add_argument("person", help="the person's key, e.g. songyun-1/陈亮")
    invite.set_defaults(func=cmd_invite)
    sub.add_parser("audit", help="check every open request has a future deadline") \
        .set_defaults(func=cmd_audit)
    keywords = sub.add_parser("keywords", help="classifier keywords")
    keywords_sub = keywords.add_subparsers(dest="keywords_command", required=True)
    suggest = keywords_sub.add_parser(
        "suggest", help="propose keyword changes from workers' corrections")
    suggest.add_argument("--min-support", type=int, default=2)
    suggest.set_defaults(func=cmd_keywords_suggest)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

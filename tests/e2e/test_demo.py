"""`huying demo` plays its scripted morning to the end and prints a transcript with the facts."""

from __future__ import annotations

import re

import pytest

from bot.demo import run_demo


async def test_demo_plays_the_morning_and_prints_the_chats(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = await run_demo()
    out = capsys.readouterr().out
    assert code == 0, out

    assert re.search(r"#\d+", out)
    assert "━━ 王阿姨 · 居民" in out and "━━ 刘敏 · 社区负责人" in out
    assert "  居民 ▶ /start SY-1" in out
    assert "  呼应 ◀ " in out
    assert "[✅ 受理]" in out  # a worker's button press
    assert "已由陈亮受理" in out and "已办结" in out
    assert "[😊 满意]" in out and "[🙂 基本满意]" in out
    assert "已补充到诉求 #" in out and "居民补充了诉求 #" in out

    gas = next(line for line in out.splitlines() if "紧急诉求 #" in line)
    assert gas.lstrip().startswith("呼应 ◀ 🚨") and "紧急" in gas

    liu = out.split("━━ 刘敏")[1]
    assert "已上报至颂运水庭社区" in liu and "多次劝说无效" in liu and "办理记录" in liu
    assert "[🙋 接管]" in liu and "已办结 #" in liu

    summary = out.strip().splitlines()[-1]
    assert summary.startswith("小结：3 件诉求") and "秒" in summary
    assert "Traceback" not in out

"""Every sentence the bot says, in 简体中文 first and English second."""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, tuple[str, str]] = {
    # ----- binding ---------------------------------------------------------------------
    "welcome_unbound": (
        "您好，这里是「呼应」社区服务。请先选择您住的社区和楼栋，之后有事直接发消息给我，"
        "我会马上转给您的网格员。",
        "Hello, this is Huying community service. Please pick your community and building "
        "first; after that, just send me your request and I will pass it to your grid worker.",
    ),
    "welcome_bound": (
        "您好！您已登记在 {place}。有什么需要帮忙的，直接发文字、照片、语音或位置给我就行。\n"
        "/my 查看我的诉求 · /help 使用说明",
        "Hello! You are registered at {place}. Send me text, a photo, a voice message or a "
        "location whenever you need help.\n/my your requests · /help how it works",
    ),
    "pick_community": ("请选择您所在的社区：", "Please choose your community:"),
    "pick_building": ("请选择您住的楼栋：", "Please choose your building:"),
    "change_building": ("更换楼栋", "Change building"),
    "no_communities": ("暂时没有可选的社区，请联系社区工作人员。",
                       "No communities are set up yet; please contact your community office."),
    "unknown_building": (
        "没有找到楼栋编号「{code}」。请重新扫描楼栋公告栏上的二维码，或从下面选择：",
        "Building code '{code}' was not found. Please scan the QR code on your building's "
        "notice board again, or choose below:",
    ),
    "bound": (
        "已登记：{place}。您的网格员是{worker}。有事直接发消息给我就行。",
        "Registered at {place}. Your grid worker is {worker}. Just send me a message any time.",
    ),
    "bound_with_pending": (
        "已登记：{place}。您刚才发的 {count} 条消息已经提交，请看下面的回执。",
        "Registered at {place}. The {count} message(s) you sent before are now submitted; "
        "see the receipts below.",
    ),
    "kept_until_bound": (
        "收到！为了转给负责您楼栋的网格员，请先告诉我您住在哪里。登记后，这条消息会自动提交。",
        "Got it! To pass it to your building's grid worker, please tell me where you live "
        "first. Your message will be submitted right after.",
    ),
    "staff_bound": (
        "绑定成功：{name}（{unit}）。新的诉求会发到这里。\n/tasks 我的待办 · /help 使用说明",
        "Linked: {name} ({unit}). New requests will arrive here.\n/tasks my tasks · /help",
    ),
    "invite_invalid": (
        "这个邀请链接无效或已使用。请向管理员要一个新的链接。",
        "This invite link is invalid or already used. Please ask the administrator for a new one.",
    ),
    # ----- help ------------------------------------------------------------------------
    "help_resident": (
        "使用说明：\n• 直接发文字、照片、语音或位置，就是提交一件诉求\n"
        "• 回复某条诉求的消息，可以补充内容\n• /my 查看我的诉求和进度\n"
        "• /start 更换楼栋\n• /mydata 我的信息 · /forgetme 删除我的信息\n"
        "紧急情况请同时拨打 110 / 119 / 120。",
        "How it works:\n• Send text, a photo, a voice message or a location to submit a "
        "request\n• Reply to a message about a request to add to it\n• /my your requests\n"
        "• /start change building\n• /mydata your data · /forgetme delete it\n"
        "In an emergency, also call 110 / 119 / 120.",
    ),
    "help_staff": (
        "工作命令：\n/tasks 我手上的诉求\n/open 辖区未办结的诉求\n/overdue 辖区超时的诉求\n"
        "/show 编号 查看办理记录\n/undelivered 送不到的消息\n/cancel 取消正在填写的内容\n"
        "诉求消息下的按钮：受理、办结、上报、退回、延期。",
        "Commands:\n/tasks what I hold\n/open open requests in my area\n/overdue overdue ones\n"
        "/show N timeline of a request\n/cancel cancel what you are typing\n"
        "Buttons under each request: accept, resolve, escalate, return.",
    ),
    # ----- resident receipts -------------------------------------------------------------
    "submitted": (
        "✅ 已收到您的诉求 #{n}\n类别：{category}\n已转给{holder}，预计 {due} 前回复您。\n"
        "需要补充的话，直接回复这条消息。",
        "✅ Request #{n} received\nCategory: {category}\nPassed to {holder}; expect an answer "
        "by {due}.\nTo add details, reply to this message.",
    ),
    "submitted_urgent": (
        "🚨 已收到您的紧急诉求 #{n}\n类别：{category}\n已第一时间通知{holder}，请保持电话畅通。\n"
        "如有人身危险，请立即拨打 110 / 119 / 120。",
        "🚨 Urgent request #{n} received\nCategory: {category}\n{holder} has been alerted "
        "right away; keep your phone at hand.\nIf anyone is in danger, call 110 / 119 / 120 now.",
    ),
    "accepted": ("👌 您的诉求 #{n} 已由{who}受理，正在办理。",
                 "👌 Request #{n} was accepted by {who} and is being handled."),
    "resolved": (
        "✅ 您的诉求 #{n} 已办结。\n办理情况：{note}\n办理人：{who}\n请您评价一下：",
        "✅ Request #{n} has been resolved.\nWhat was done: {note}\nBy: {who}\nPlease rate it:",
    ),
    "escalated_resident": (
        "您的诉求 #{n} 已转交{holder}协调办理，我们会继续跟进，有进展第一时间告诉您。",
        "Request #{n} has been passed to {holder} to coordinate. We keep following it and will "
        "tell you as soon as there is news.",
    ),
    "reassigned_resident": (
        "您的诉求 #{n} 已转给{grid}的{holder}办理。",
        "Request #{n} was passed to {holder} of {grid}.",
    ),
    "detail_added": ("已补充到诉求 #{n}，并告知了{holder}。",
                     "Added to request #{n}; {holder} has been told."),
    "detail_resolved": (
        "诉求 #{n} 已经办结，正等您确认。如果问题还在，请点那条消息下的「不满意」并说明情况；"
        "如果是新问题，直接发一条新消息就行。",
        "Request #{n} is resolved and waiting for your confirmation. If the problem is still "
        "there, press 'Not solved' under that message and tell us; for a new problem, just "
        "send a new message.",
    ),
    "withdrawn_ok": ("诉求 #{n} 已撤回。", "Request #{n} has been withdrawn."),
    "rated_thanks": ("谢谢您的评价！诉求 #{n} 已完结。", "Thank you! Request #{n} is closed."),
    "ask_dissatisfied": (
        "很抱歉没有让您满意。请说说哪里还没解决（诉求 #{n}），我们会重新办理：",
        "Sorry it did not solve your problem. Please tell us what is still wrong with "
        "request #{n}; it will be handled again:",
    ),
    "reopened_resident": (
        "已重新交给{holder}办理诉求 #{n}，办好后会再请您确认。",
        "Request #{n} is back with {holder}; you will be asked to confirm again.",
    ),
    "mydata": (
        "您在「呼应」保存的信息：\n• Telegram 账号：{telegram_id}\n• 称呼：{name}\n"
        "• 登记楼栋：{building}"
        "\n• 登记时间：{bound_at}\n• 诉求：{count} 件{requests}\n• 待提交的消息：{pending} 条\n"
        "诉求内容会作为办理记录保存；发送 /forgetme 可删除您的个人信息。",
        "What Huying keeps about you:\n• Telegram account: {telegram_id}\n• Name: {name}\n"
        "• Building: {building}\n• Registered: {bound_at}\n• Requests: {count}{requests}\n"
        "• Messages waiting to be submitted: {pending}\nRequests are kept as the record of "
        "what was done; /forgetme deletes your personal data.",
    ),
    "forget_confirm": (
        "确定要删除您的个人信息吗？删除后：您的称呼、楼栋登记和聊天状态会被清除；已提交的诉求会保留"
        "为办理记录，但不再和您的账号关联，其中的电话、门牌号会被隐去，也不会再通知您进展。",
        "Delete your personal data? Your name, building and chat state are removed; your "
        "requests stay as the record of what was done, no longer linked to you, with phone and "
        "room numbers hidden, and you will not hear about them any more.",
    ),
    "forget_done": ("已删除您的个人信息，{count} 件诉求已匿名保存。需要时随时可以重新登记。",
                    "Your personal data is deleted; {count} request(s) kept anonymously. You can "
                    "register again any time."),
    "forget_kept": ("好的，什么都没有删除。", "All right, nothing was deleted."),
    "btn_forget_yes": ("确认删除", "Delete"),
    "btn_forget_no": ("取消", "Cancel"),
    "undelivered_none": ("目前没有送不到的消息。", "No undeliverable messages."),
    "undelivered_title": (
        "以下消息没能送达（对方屏蔽了机器人或账号已不存在），请电话联系：",
        "These messages could not be delivered (the bot was blocked or the account is gone); "
        "please phone them:",
    ),
    "my_none": ("您还没有提交过诉求。有事直接发消息给我就行。",
                "You have no requests yet. Just send me a message when you need help."),
    "my_title": ("您的诉求：", "Your requests:"),
    # ----- staff notices ---------------------------------------------------------------
    "assigned": (
        "{icon}新诉求 #{n}｜{urgency}｜{category}{review}\n地址：{address}\n内容：{text}\n"
        "请在 {due} 前受理。",
        "{icon}New request #{n} | {urgency} | {category}{review}\nAddress: {address}\n"
        "Text: {text}\nPlease accept by {due}.",
    ),
    "escalated": (
        "⬆️ 诉求 #{n} 已上报至{holder}\n上报人：{who}\n原因：{note}\n{urgency}｜{category}\n"
        "地址：{address}\n内容：{text}\n办理记录：\n{timeline}",
        "⬆️ Request #{n} escalated to {holder}\nBy: {who}\nReason: {note}\n{urgency} | "
        "{category}\nAddress: {address}\nText: {text}\nTimeline:\n{timeline}",
    ),
    "returned": (
        "↩️ {who}退回了诉求 #{n}（不属于本网格）\n原因：{note}\n地址：{address}\n内容：{text}\n"
        "请点「转派」交给正确的网格，或直接办理。\n办理记录：\n{timeline}",
        "↩️ {who} returned request #{n} (not their grid)\nReason: {note}\nAddress: {address}\n"
        "Text: {text}\nUse 'Reassign' to send it to the right grid, or handle it.\n"
        "Timeline:\n{timeline}",
    ),
    "urged": ("📣 {who}督办诉求 #{n}：{note}\n地址：{address}\n内容：{text}",
              "📣 {who} urges request #{n}: {note}\nAddress: {address}\nText: {text}"),
    "taken_over": ("{who}已接管诉求 #{n}，您无需再办理。",
                   "{who} has taken over request #{n}; no action needed from you."),
    "handed_back": (
        "↘️ {who}将诉求 #{n} 交回办理：{note}\n地址：{address}\n内容：{text}\n请在 {due} 前受理。",
        "↘️ {who} handed request #{n} back: {note}\nAddress: {address}\nText: {text}\n"
        "Please accept by {due}.",
    ),
    "detail": ("📝 居民补充了诉求 #{n}：{detail}",
               "📝 The resident added to request #{n}: {detail}"),
    "withdrawn": ("居民已撤回诉求 #{n}，无需再办理。",
                  "The resident withdrew request #{n}; no further action needed."),
    "rated": ("⭐ 居民对诉求 #{n} 的评价：{rating}",
              "⭐ The resident rated request #{n}: {rating}"),
    "reopened": (
        "⚠️ 居民对诉求 #{n} 的办理结果不满意：{reason}\n地址：{address}\n请重新办理。",
        "⚠️ The resident is not satisfied with request #{n}: {reason}\nAddress: {address}\n"
        "Please handle it again.",
    ),
    "step": ("ℹ️ 您首接的诉求 #{n}：{who}{step}。{note}",
             "ℹ️ Request #{n} you first received: {who} {step}. {note}"),
    "attachment": ("诉求 #{n} 的附件", "Attachment of request #{n}"),
    "reminder": (
        "⏰ 提醒：诉求 #{n} 请在 {deadline} 前{what}。{late}\n地址：{address}\n内容：{text}",
        "⏰ Reminder: request #{n} must be {what_en} by {deadline}. {late}\nAddress: {address}\n"
        "Text: {text}",
    ),
    "reminder_top": (
        "⏰ 诉求 #{n} 已到最高一级仍未{what}，请尽快处理。下次提醒：{deadline}。{late}\n"
        "地址：{address}\n内容：{text}",
        "⏰ Request #{n} is at the top level and still not {what_en}; please act. Next "
        "reminder: {deadline}. {late}\nAddress: {address}\nText: {text}",
    ),
    "model_alarm_note": ("\n（系统据描述判为紧急，请先核实；如不紧急，请点「改分类」）",
                         "\n(marked urgent from the description: please check it; if it is "
                         "not urgent, 'Fix category')"),
    "review_note": ("（分类待确认，请核对后点「改分类」）",
                    " (category unsure: please check it, 'Fix category')"),
    "linked": (
        "🔗 又有居民反映了诉求 #{original} 的问题（新编号 #{n}），已有 {reporters} 位居民反映。\n"
        "地址：{address}\n内容：{text}\n办结 #{original} 时会一并答复他们；"
        "如果其实是另一件事，请点「拆分」。",
        "🔗 Another resident reported the problem of request #{original} (new number #{n}); "
        "{reporters} residents so far.\nAddress: {address}\nText: {text}\nResolving "
        "#{original} answers them all; if this is a different problem, press 'Split'.",
    ),
    "linked_resident": (
        "✅ 已收到您的诉求 #{n}。您的邻居也反映了这个问题（#{original}），{holder}正在一并处理，"
        "办好后会告诉您。",
        "✅ Request #{n} received. Your neighbours reported the same problem (#{original}); "
        "{holder} is handling it for everyone and will tell you when it is done.",
    ),
    "pick_correction": ("诉求 #{n} 现在是「{category}｜{urgency}」。请选择正确的分类或紧急程度：",
                        "Request #{n} is now '{category} | {urgency}'. Choose the right "
                        "category or urgency:"),
    "done_correct": ("已改为「{category}｜{urgency}」（#{n}），已记入办理记录。",
                     "Changed to '{category} | {urgency}' (#{n}); recorded in the timeline."),
    "done_unlink": ("已把 #{n} 拆分为独立诉求，请按新诉求办理。",
                    "#{n} is now a request of its own; please handle it as new."),
    "late_note": ("（系统恢复后补发，晚了 {amount}）",
                  "(sent {amount} late, after the system came back)"),
    "escalated_auto": (
        "⬆️ 诉求 #{n} {why}，已自动上报至{holder}{late}\n{urgency}｜{category}\n"
        "地址：{address}\n内容：{text}\n办理记录：\n{timeline}",
        "⬆️ Request #{n} was not handled in time ({why}) and escalated to {holder}{late}\n"
        "{urgency} | {category}\nAddress: {address}\nText: {text}\nTimeline:\n{timeline}",
    ),
    "extension_asked": (
        "⏳ {who}申请诉求 #{n} 延期{extra}（至 {until}）\n理由：{note}\n地址：{address}\n"
        "内容：{text}",
        "⏳ {who} asks for {extra} more for request #{n} (until {until})\nReason: {note}\n"
        "Address: {address}\nText: {text}",
    ),
    "extension_approved": ("✅ {who}同意了诉求 #{n} 的延期，新的办结时限：{until}。",
                           "✅ {who} approved more time for request #{n}; new deadline {until}."),
    "extension_refused": ("❌ {who}没有同意诉求 #{n} 的延期，请按原时限办理。",
                          "❌ {who} refused more time for request #{n}; the deadline stands."),
    "extension_resident": (
        "您的诉求 #{n} 需要多一些时间办理，预计 {until} 前办好，给您添麻烦了。",
        "Request #{n} needs a little more time; it should be done by {until}. Sorry for the wait.",
    ),
    "chased": ("🔔 居民催办诉求 #{n}，已超过时限，请尽快处理。\n地址：{address}\n内容：{text}",
               "🔔 The resident is chasing request #{n}, which is overdue.\nAddress: {address}\n"
               "Text: {text}"),
    "chased_above": ("🔔 居民催办诉求 #{n}（现由{holder}办理，已超时）。\n地址：{address}",
                     "🔔 A resident is chasing overdue request #{n} (held by {holder}).\n"
                     "Address: {address}"),
    "chase_done": ("已帮您催办诉求 #{n}，并告知了上一级。", "We have chased request #{n} and told "
                   "the level above."),
    "digest_supervisor": (
        "📋 民情日报 {day}｜{area}\n近24小时：新增 {new} 件，受理 {accepted} 件，"
        "办结 {resolved} 件，"
        "上报 {escalated} 件。\n超时未办：{overdue_count} 件{overdue}",
        "📋 Daily report {day} | {area}\nLast 24 hours: {new} new, {accepted} accepted, "
        "{resolved} resolved, {escalated} escalated.\nOverdue: {overdue_count}{overdue}",
    ),
    "digest_worker": ("📋 早上好！今天您手上有 {count} 件诉求：\n{lines}",
                      "📋 Good morning! You hold {count} request(s):\n{lines}"),
    "digest_worker_none": ("📋 早上好！您手上没有待办的诉求，记得按月走访包保户。",
                           "📋 Good morning! You hold no open requests."),
    "audit_failed": (
        "⚠️ 系统自检发现 {count} 件诉求没有下一步时限，请联系管理员检查：\n{problems}",
        "⚠️ Self-check found {count} request(s) with no next deadline; please tell the "
        "administrator:\n{problems}",
    ),
    # ----- staff prompts and replies ---------------------------------------------------
    "ask_resolve": ("请简要写一下诉求 #{n} 的办理情况，发送后即办结（/cancel 取消）：",
                    "Briefly write what was done for request #{n}; sending it resolves the "
                    "request (/cancel to stop):"),
    "ask_escalate": ("请写明诉求 #{n} 需要上级协调的原因（/cancel 取消）：",
                     "Write why request #{n} needs the next level (/cancel to stop):"),
    "ask_return": ("请写明诉求 #{n} 为什么不属于您的网格，例如正确的楼栋（/cancel 取消）：",
                   "Write why request #{n} is not your grid's, e.g. the right building "
                   "(/cancel to stop):"),
    "ask_urge_deadline": ("督办诉求 #{n}：要给办理人定一个新的办结期限吗？",
                          "Urging request #{n}: set a new deadline for it?"),
    "ask_urge": ("请写督办要求（诉求 #{n}）（/cancel 取消）：",
                 "Write your instruction for request #{n} (/cancel to stop):"),
    "ask_hand_back": ("请写交回办理的要求（诉求 #{n}）（/cancel 取消）：",
                      "Write your instruction for handing back request #{n} (/cancel to stop):"),
    "ask_extension_length": ("诉求 #{n} 需要延期多久？", "How much more time for request #{n}?"),
    "ask_extension_reason": ("请写明诉求 #{n} 需要延期的理由（/cancel 取消）：",
                             "Write why request #{n} needs more time (/cancel to stop):"),
    "done_extension": ("已提交延期申请（#{n}），等待上级审批。",
                       "Asked for more time for #{n}; waiting for approval."),
    "done_decide": ("已处理延期申请（#{n}）。", "Decision recorded for #{n}."),
    "pick_grid": ("请选择要转派到的网格（诉求 #{n}）：", "Choose the grid for request #{n}:"),
    "no_grids": ("您的辖区里没有可转派的网格。", "There is no grid in your area to reassign to."),
    "done_accept": ("已受理 #{n}，已告知居民。", "Accepted #{n}; the resident has been told."),
    "done_resolve": ("已办结 #{n}，已请居民评价。",
                     "Resolved #{n}; the resident is asked to rate."),
    "done_escalate": ("已上报 #{n} 至{holder}。", "Escalated #{n} to {holder}."),
    "done_return": ("已退回 #{n}，社区会转派给正确的网格。",
                    "Returned #{n}; the community will send it to the right grid."),
    "done_urge": ("已督办 #{n}。", "Urged #{n}."),
    "done_take": ("您已接管 #{n}。办好后请点「办结」。",
                  "You now hold #{n}. Press 'Resolve' when done."),
    "done_hand_back": ("已交回 #{n} 至{holder}。", "Handed #{n} back to {holder}."),
    "done_reassign": ("已转派 #{n} 至{grid}。", "Reassigned #{n} to {grid}."),
    "cancelled": ("已取消。", "Cancelled."),
    "nothing_to_cancel": ("现在没有需要取消的操作。", "There is nothing to cancel."),
    "tasks_none": ("您手上暂时没有待办的诉求。", "You hold no open requests."),
    "tasks_title": ("您手上的诉求：", "Requests you hold:"),
    "open_none": ("辖区内暂时没有未办结的诉求。", "No open requests in your area."),
    "open_title": ("辖区未办结的诉求：", "Open requests in your area:"),
    "overdue_none": ("辖区内没有超时的诉求。", "No overdue requests in your area."),
    "overdue_title": ("辖区超时的诉求：", "Overdue requests in your area:"),
    "show_usage": ("用法：/show 编号，例如 /show 12", "Usage: /show N, e.g. /show 12"),
    "timeline_title": ("办理记录：", "Timeline:"),
    "timeline_page": ("办理记录（第 {page}/{pages} 页）：", "Timeline (page {page} of {pages}):"),
    "page_older": ("◀ 更早", "◀ Older"),
    "page_newer": ("更新 ▶", "Newer ▶"),
    "staff_only": ("这个命令是给网格员和社区工作人员用的。", "This command is for staff."),
    "staff_plain_text": (
        "这里是工作账号。要办理诉求，请点诉求消息下面的按钮；/help 查看工作命令。",
        "This is a staff account. Use the buttons under a request; /help lists the commands.",
    ),
    # ----- refusals and bad input ------------------------------------------------------
    "refuse_not_found": ("没有找到这件诉求。", "That request was not found."),
    "refuse_not_yours": ("这件诉求不归您办理，操作没有生效。",
                         "This request is not yours to handle; nothing was changed."),
    "refuse_wrong_state": ("诉求 #{n} 现在是「{state}」，这个操作已经不适用了。",
                           "Request #{n} is {state}; this action no longer applies."),
    "refuse_already_done": ("诉求 #{n} 现在是「{state}」，不用重复操作。",
                            "Request #{n} is already {state}; nothing more to do."),
    "refuse_escalated_away": ("诉求 #{n} 已经上报，现在由{holder}办理。",
                              "Request #{n} was escalated and is now with {holder}."),
    "refuse_top_of_ladder": ("诉求 #{n} 已在最高一级，不能再上报。",
                             "Request #{n} is already at the top level."),
    "refuse_bottom_of_ladder": ("诉求 #{n} 已在网格一级，不能再往下交。",
                                "Request #{n} is already at grid level."),
    "refuse_not_overdue": ("诉求 #{n} 还在办理时限内（{due} 前），请再耐心等一等。",
                           "Request #{n} is still within its deadline ({due}); please bear with "
                           "us a little longer."),
    "refuse_once_per_window": ("诉求 #{n} 已经催办过了，我们会持续跟进。",
                               "You already chased request #{n}; we are following it."),
    "refuse_no_pending_extension": ("诉求 #{n} 没有待审批的延期申请。",
                                    "Request #{n} has no pending extension."),
    "refuse_own_extension": ("不能审批自己提交的延期申请。",
                             "You cannot approve your own request."),
    "refuse_too_fast": (
        "您发得太快了，我们已经收到您前面的诉求，请先休息一下，过几分钟再发。",
        "You are sending very fast; we have your earlier requests. Please wait a few minutes "
        "before sending more.",
    ),
    "merged_flood": (
        "您短时间内发了好几件诉求，这条已补充到诉求 #{n}。如果是另一件事，请过几分钟再单独发送。",
        "You sent several requests in a short time, so this was added to request #{n}. If it "
        "is something else, please send it separately in a few minutes.",
    ),
    "refuse_empty": ("内容是空的，请写几个字再发。", "That was empty; please write something."),
    "refuse_button": ("这个按钮已经失效了，请用 /my 或 /tasks 查看最新情况。",
                      "This button is no longer valid; see /my or /tasks for the latest."),
    "sticker": (
        "收到您的表情啦 😊 如果有事要反映，请用文字、照片、语音或位置告诉我。",
        "Thanks for the sticker 😊 To report something, please send text, a photo, a voice "
        "message or a location.",
    ),
    "unsupported": (
        "这类消息暂时处理不了。请用文字、照片、语音或位置描述您的问题。",
        "I can't handle this kind of message yet. Please use text, a photo, a voice message or "
        "a location.",
    ),
    "forwarded": (
        "转发的消息我们没法确认情况。请用您自己的话说一下遇到了什么问题，我马上转给网格员。",
        "Forwarded messages can't be verified. Please describe the problem in your own words "
        "and I will pass it on right away.",
    ),
    "edited": (
        "修改后的消息不会更新已提交的诉求。如需补充，请回复那条诉求的回执消息。",
        "Edits do not change a submitted request. To add details, reply to its receipt.",
    ),
    "unknown_command": (
        "没有这个命令。有事直接发消息给我；/help 查看使用说明。",
        "I don't know that command. Just send me a message, or see /help.",
    ),
    "group_chat": ("请私聊我提交诉求，这样您的信息不会被群里其他人看到。",
                   "Please message me privately so others in the group can't see your details."),
    "error": ("抱歉，系统开了个小差，请稍后再试一次。",
              "Sorry, something went wrong on our side. Please try again in a moment."),
    "too_long": (
        "内容太长了（最多 {limit} 字），请分几条发送。",
        "That is too long (at most {limit} characters); please split it into several messages.",
    ),
    # ----- buttons ---------------------------------------------------------------------
    "btn_accept": ("✅ 受理", "✅ 受理 Accept"),
    "btn_resolve": ("🏁 办结", "🏁 办结 Resolve"),
    "btn_escalate": ("⬆️ 上报", "⬆️ 上报 Escalate"),
    "btn_return": ("↩️ 退回（非本网格）", "↩️ 退回 Not my grid"),
    "btn_take": ("🙋 接管", "🙋 接管 Take over"),
    "btn_urge": ("📣 督办", "📣 督办 Urge"),
    "btn_hand_back": ("↘️ 交回下级", "↘️ 交回 Hand back"),
    "btn_reassign": ("🔀 转派", "🔀 转派 Reassign"),
    "btn_satisfied": ("😊 满意", "😊 满意 Satisfied"),
    "btn_basic": ("🙂 基本满意", "🙂 基本满意 Mostly"),
    "btn_dissatisfied": ("😞 不满意", "😞 不满意 Not solved"),
    "btn_withdraw": ("撤回诉求", "Withdraw"),
    "btn_chase": ("🔔 催办", "🔔 催办 Chase"),
    "btn_correct": ("🏷 改分类", "🏷 改分类 Fix category"),
    "btn_unlink": ("✂️ 拆分", "✂️ 拆分 Split"),
    "btn_keep_deadline": ("不改期限", "keep deadline"),
    "btn_extend": ("⏳ 延期", "⏳ 延期 More time"),
    "btn_approve": ("✅ 同意延期", "✅ 同意 Approve"),
    "btn_refuse": ("❌ 不同意", "❌ 不同意 Refuse"),
    "btn_progress": ("查看进度", "Progress"),
}

STATES: dict[str, tuple[str, str]] = {
    "open": ("待受理", "waiting"),
    "accepted": ("办理中", "in progress"),
    "resolved": ("已办结待确认", "resolved, awaiting your confirmation"),
    "closed": ("已完结", "closed"),
    "declined": ("已说明不予办理", "declined with explanation"),
    "merged": ("已合并", "merged"),
    "withdrawn": ("已撤回", "withdrawn"),
}
URGENCY: dict[str, tuple[str, str]] = {
    "urgent": ("紧急", "URGENT"), "normal": ("一般", "normal"), "low": ("咨询", "inquiry")}
RATINGS: dict[str, tuple[str, str]] = {
    "satisfied": ("满意", "satisfied"), "basic": ("基本满意", "mostly satisfied"),
    "dissatisfied": ("不满意", "not satisfied")}
ACTIONS: dict[str, tuple[str, str]] = {
    "submitted": ("提交", "submitted"), "classified": ("分类", "classified"),
    "accepted": ("受理", "accepted"), "resolved": ("办结", "resolved"),
    "escalated": ("上报", "escalated"), "returned": ("退回", "returned"),
    "urged": ("督办", "urged"), "taken_over": ("接管", "took over"),
    "handed_back": ("交回", "handed back"), "reassigned": ("转派", "reassigned"),
    "detail": ("补充", "added details"), "withdrawn": ("撤回", "withdrew"),
    "rated": ("评价", "rated"), "reopened": ("不满意重办", "reopened"),
    "reminded": ("提醒", "reminded"), "auto_escalated": ("超时自动上报", "escalated on timeout"),
    "extension_asked": ("申请延期", "asked for more time"),
    "extension_approved": ("同意延期", "approved more time"),
    "extension_refused": ("不同意延期", "refused more time"), "chased": ("催办", "chased"),
    "corrected": ("改分类", "corrected the category"), "linked": ("合并到同类诉求", "linked"),
    "unlinked": ("拆分", "split off"),
}
LEVELS: dict[str, tuple[str, str]] = {
    "grid": ("网格", "grid"), "community": ("社区", "community"),
    "town": ("街道", "street/town"), "district": ("区", "district")}


def lang_of(code: str | None) -> str:
    """Chinese unless the user's Telegram speaks English."""
    return "en" if code and code.lower().startswith("en") else "zh"


def pick(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    pair = table.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def t(key: str, lang: str = "zh", **values: Any) -> str:
    """The sentence `key` in the user's language, filled in."""
    return pick(TEXTS, key, lang).format(**values)

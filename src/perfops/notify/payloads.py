"""Webhook payloads. Slack: `text` (fallback) + Block Kit `blocks`, with `mrkdwn` control
characters (&, <, >) escaped as Slack requires so data cannot forge links or mentions. Teams:
a MessageCard-compatible payload (`@type`, `summary`, `sections` with `text`), HTML-escaped."""

from __future__ import annotations

from html import escape as html_escape
from typing import Any

from perfops.notify.record import ACTIONS_LABEL, MAX_ACTIONS, MAX_ITEMS, Digest, line_of


def slack_escape(text: str) -> str:
    """Slack's own escaping for mrkdwn: &, < and > (see api.slack.com 'Escaping text')."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lines(items: list[Any]) -> str:
    shown = [f"• {slack_escape(line_of(f))}" for f in items[:MAX_ITEMS]]
    if len(items) > MAX_ITEMS:
        shown.append(f"… and {len(items) - MAX_ITEMS} more")
    return "\n".join(shown)


def slack_payload(d: Digest) -> dict[str, Any]:
    summary = f"{len(d.new)} new, {len(d.still_open)} still open, {len(d.resolved)} resolved"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": d.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(summary)}},
    ]
    if d.movement:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(d.movement)[:2900]}})
    if d.actions:
        listed = "\n".join(f"{i}. {slack_escape(a)}" for i, a in enumerate(d.actions[:MAX_ACTIONS], start=1))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{ACTIONS_LABEL}*\n{listed}"[:2900]}})
    for label, items in (("New", d.new), ("Still open", d.still_open), ("Resolved", d.resolved)):
        if items:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{label}*\n{_lines(items)}"[:2900]}})
    if d.empty:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "Nothing new, nothing open."}})
    return {"text": slack_escape(f"{d.title}: {summary}"), "blocks": blocks}


def teams_payload(d: Digest) -> dict[str, Any]:
    sections = []
    if d.actions:
        sections.append({"activityTitle": ACTIONS_LABEL,
                         "text": "<br>".join(html_escape(a) for a in d.actions[:MAX_ACTIONS])})
    for label, items in (("New", d.new), ("Still open", d.still_open), ("Resolved", d.resolved)):
        if items:
            text = "<br>".join(html_escape(line_of(f)) for f in items[:MAX_ITEMS])
            sections.append({"activityTitle": label, "text": text})
    summary = f"{len(d.new)} new, {len(d.still_open)} still open, {len(d.resolved)} resolved"
    return {
        "@type": "MessageCard", "@context": "https://schema.org/extensions",
        "summary": html_escape(f"{d.title}: {summary}"), "title": html_escape(d.title),
        "text": summary + (f"<br>{html_escape(d.movement)}" if d.movement else ""),
        "sections": sections,
    }


def payload_for(url: str, d: Digest) -> dict[str, Any]:
    """Teams incoming webhooks live on office.com / logic.azure.com; everything else gets Slack's shape."""
    teams_hosts = ("office.com", "office365.com", "logic.azure.com", "powerplatform.com")
    return d.teams if any(h in url for h in teams_hosts) else d.slack

"""Digests that reach squads without anyone opening a page: what is new, still open, resolved.

`digest` builds them (pure) as `record.Digest`s, `payloads` shapes them for Slack- and Teams-compatible incoming
webhooks, `sender` posts them with retries and exponential backoff over an injectable httpx
transport.
"""

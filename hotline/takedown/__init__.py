"""The takedown desk: content items, their locations, removal requests to platforms with
legal deadlines, consent, sending, escalation and evidence export. See docs/takedown.md."""

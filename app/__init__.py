"""Convene: follow-ups, invitations, availability and signed webhooks for CRM diaries."""

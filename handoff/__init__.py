"""Handoff queue: tickets that pass a conversation from the bot to a specialist."""

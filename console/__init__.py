"""Specialists' web console for the handoff queue (Sanic)."""

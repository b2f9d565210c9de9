"""Shared SQL storage helpers for our own tables (handoff queue, channel bookkeeping)."""

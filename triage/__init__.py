"""Triage: every intent maps to a level and a handoff flag (data/triage.yml)."""

from triage.levels import LEVELS, Assessment, TriageMap, load_triage_map

__all__ = ["LEVELS", "Assessment", "TriageMap", "load_triage_map"]

"""Locust user classes, one module per kind of client (docs/API.md: the terminal, the insurer)."""

from loadtests.scenarios.insurer import InsurerUploader
from loadtests.scenarios.reception import ReceptionTerminal

__all__ = ["InsurerUploader", "ReceptionTerminal"]

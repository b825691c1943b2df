"""Locust user classes, one module per kind of client (docs/api.md: the terminal, the insurer, the viewer)."""

from loadtests.scenarios.insurer import InsurerUploader
from loadtests.scenarios.reception import ReceptionTerminal
from loadtests.scenarios.viewer import ViewerStaff

__all__ = ["InsurerUploader", "ReceptionTerminal", "ViewerStaff"]

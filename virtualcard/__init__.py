"""The virtual My Number Card file: its format, PIN, counters and signature (see virtualcard.card).

Shared by both sides and importing neither: the server's authority writes card files (issuing, renewal), the
clients in terminals/ read them and sign with them.
"""

from virtualcard.card import FORMAT, CardError, CardLocked, VirtualCard, WrongPin

__all__ = ["FORMAT", "CardError", "CardLocked", "VirtualCard", "WrongPin"]

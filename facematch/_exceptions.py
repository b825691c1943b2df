"""The facematch exception tree (drawn in the package docstring).

Quality refusals, liveness failures and "no match" are *outcomes*, returned in a `MatchDecision`, not raised:
the reception screen needs them to tell the patient what to do. Exceptions are for the cases where no
decision can be made at all.
"""

from __future__ import annotations


class FaceMatchError(Exception):
    """Base class of every error raised by facematch."""


class DecodeError(FaceMatchError):
    """An image (the card photo or a frame) could not be decoded."""


class FrameSourceError(FaceMatchError):
    """A camera device or video file could not be opened or gave no frame."""


class ModelUnavailableError(FaceMatchError):
    """dlib, mediapipe or the two dlib model files are not installed (`python -m facematch install-models`)."""


class FaceLockedError(FaceMatchError):
    """The card has locked face matching after 10 consecutive failures: use the PIN or the staff check."""

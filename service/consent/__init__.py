"""Consent to view medication and checkup history: per patient, facility and category, for 24 hours."""

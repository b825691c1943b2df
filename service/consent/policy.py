"""Who may view what: one table, category x facility type x role.

The default follows the seed: medication history for doctors, dentists and pharmacists at their kind of
facility; checkup results at medical institutions only. Pharmacies may view checkups since 2020-11: that row
is switched on with ONSHI_CHECKUP_AT_PHARMACIES=true. Reception staff never view (eligibility only).
"""

from __future__ import annotations

CATEGORIES = ("medication", "checkup")
RETENTION_YEARS = {"medication": 3, "checkup": 5}

ACCESS_POLICY: frozenset[tuple[str, str, str]] = frozenset({
    ("medication", "clinic", "doctor"),
    ("medication", "hospital", "doctor"),
    ("medication", "hospital", "dentist"),
    ("medication", "hospital", "pharmacist"),
    ("medication", "dental", "dentist"),
    ("medication", "pharmacy", "pharmacist"),
    ("checkup", "clinic", "doctor"),
    ("checkup", "hospital", "doctor"),
    ("checkup", "hospital", "dentist"),
    ("checkup", "hospital", "pharmacist"),
    ("checkup", "dental", "dentist"),
})
PHARMACY_CHECKUPS: frozenset[tuple[str, str, str]] = frozenset({("checkup", "pharmacy", "pharmacist")})


def allowed(*, category: str, facility_type: str, role: str, pharmacy_checkups: bool = False) -> bool:
    """Whether this role at this kind of facility may view this category."""
    rule = (category, facility_type, role)
    return rule in ACCESS_POLICY or (pharmacy_checkups and rule in PHARMACY_CHECKUPS)


VIEWER_ROLES = frozenset(role for _, _, role in ACCESS_POLICY | PHARMACY_CHECKUPS)


def may_view_anything(*, facility_type: str, role: str, pharmacy_checkups: bool = False) -> bool:
    """Whether this role at this kind of facility may view some category (else it sees no patient list)."""
    return any(allowed(category=c, facility_type=facility_type, role=role, pharmacy_checkups=pharmacy_checkups)
               for c in CATEGORIES)

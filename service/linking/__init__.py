"""Five-field matching of eligibility records to card holders (紐付け)."""

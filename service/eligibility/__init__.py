"""Insurer eligibility records (資格情報): versioned, never overwritten."""

"""Medication records (薬剤情報) and checkup results (特定健診): batches in, versioned storage, viewer reads."""

"""Insurer and claims batch uploads: row validation, the processing pipeline and its routes."""

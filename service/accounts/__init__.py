"""Facilities, terminals, staff, insurers, operators, claims processors and their credentials."""

"""FHIR R4 read-only views of verifications, consents, medication, checkups and the holder's access log.

Resources are built and validated with the `fhir.resources` R4B models: for every resource type served here the
R4 (4.0.1) and R4B (4.3.0) element definitions agree (docs/fhir.md shows how that was checked), and the
resources declare FHIR 4.0.1, the version JP Core is built on.
"""

"""Utilities with no domain knowledge: atomic writes, the sandboxed parser run, job journals, provenance
(code version, file digests). Imports only gfpose_cli.core (docs/ARCHITECTURE.md).
"""

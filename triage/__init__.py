"""triage: turn Cloud Run logs into a dated incident audit report."""

__version__ = "0.1.0"

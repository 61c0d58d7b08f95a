"""The engine: the rule catalog and the matcher. It never groups, counts or formats."""

from triage.engine.catalog import Catalog, load_catalog
from triage.engine.matcher import Match, Matcher
from triage.engine.rules import Rule

__all__ = ["Catalog", "Match", "Matcher", "Rule", "load_catalog"]

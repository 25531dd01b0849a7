"""What one consumer of the corpus (training, export, search) may see of it (DESIGN §11).

Every consumer asks the same question of each document: is it admitted, and if not, why. The reasons
are counted and reported by each consumer (``license``, ``contaminated``), so a shrinking training set
or export always says what left it. Pure: settings are read by the callers (`ConsumerPolicy.from_settings`
takes plain strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from codelupe_dagster.core.licenses import LicensePolicy

# Defaults per consumer (issue 11): training and export keep permissive licences only and leave out
# documents that overlap an evaluation set; search shows everything and marks what it shows.
DEFAULT_LICENSE_POLICY: Final[dict[str, str]] = {
    "training": "permissive",
    "export": "permissive",
    "search": "any",
}
DEFAULT_EXCLUDE_CONTAMINATED: Final[dict[str, bool]] = {"training": True, "export": True, "search": False}

LICENSE_REASON: Final = "license"
CONTAMINATED_REASON: Final = "contaminated"


@dataclass(frozen=True)
class ConsumerPolicy:
    """The filter one consumer applies to documents; ``exclusion(doc)`` says why a document is left out."""

    license: LicensePolicy
    exclude_contaminated: bool = True

    @classmethod
    def default(cls, consumer: str) -> ConsumerPolicy:
        return cls(
            LicensePolicy.parse(DEFAULT_LICENSE_POLICY[consumer]), DEFAULT_EXCLUDE_CONTAMINATED[consumer]
        )

    @classmethod
    def from_settings(
        cls, consumer: str, license_policy: str | None = None, include_contaminated: bool | None = None
    ) -> ConsumerPolicy:
        """The consumer's defaults with what its settings override (None: not set)."""
        default = cls.default(consumer)
        return cls(
            LicensePolicy.parse(license_policy) if license_policy else default.license,
            default.exclude_contaminated if include_contaminated is None else not include_contaminated,
        )

    def exclusion(self, doc: Mapping[str, Any]) -> str | None:
        """None when the document is admitted, else the reason it is not (``license``, ``contaminated``)."""
        if self.exclude_contaminated and doc.get("contaminated"):
            return CONTAMINATED_REASON
        if not self.license.admits(doc.get("license")):
            return LICENSE_REASON
        return None

    def describe(self) -> dict[str, Any]:
        """What to record in a manifest or metadata so a reader knows what was filtered."""
        return {"license_policy": str(self.license), "exclude_contaminated": self.exclude_contaminated}

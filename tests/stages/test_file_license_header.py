"""A kept file's own SPDX tag reaches ProcessedFile.license_header, and from there its document."""

from __future__ import annotations

from codelupe_dagster.stages.file_processing import ProcessedFile, ProcessingConfig, process_file
from codelupe_dagster.stages.score_batch import document_license

BODY = "".join(f"def f{i}(x):\n    return x * {i} + 1\n\n" for i in range(12))


def _processed(text: str) -> ProcessedFile:
    kept = process_file("pkg/m.py", text.encode(), ProcessingConfig())
    assert isinstance(kept, ProcessedFile), kept
    return kept


def test_tagged_file_carries_its_own_licence_over_the_repositorys() -> None:
    kept = _processed("# SPDX-License-Identifier: apache-2.0 OR mit\n" + BODY)
    assert kept.license_header == "Apache-2.0 OR MIT"
    record = {"license": "GPL-3.0-or-later", "license_source": "license-file"}
    assert document_license(kept.license_header, record) == ("Apache-2.0 OR MIT", "file-header")


def test_untagged_or_unknown_tag_falls_back_to_the_repository() -> None:
    for text in (BODY, "# SPDX-License-Identifier: Not-A-Licence\n" + BODY):
        kept = _processed(text)
        assert kept.license_header is None
        assert document_license(None, {"license": "MIT", "license_source": "license-file"}) == (
            "MIT",
            "license-file",
        )

"""The scoring step's spool work imports neither pandas nor pyarrow.dataset.

Each step runs in a fresh process, so an import is paid per batch: the two cost ~0.3 s of CPU together
(issue 12), more than the step's own Python work on the spool. A fresh interpreter is the only place
where "not imported yet" can be observed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from codelupe_dagster.assets.score import spool_license_counts
from codelupe_dagster.backends.spool import ShardWriter, iter_documents

spool = sys.argv[1]
with ShardWriter(spool) as writer:
    writer.write({"id": "a", "path": "a.py", "content": "x = 1\\n", "size_bytes": 6, "license": "MIT"})
    writer.write({"id": "b", "path": "b.py", "content": "y = 2\\n", "quality_score": 0.5})
    writer.commit()
print(json.dumps({
    "counts": spool_license_counts(spool),
    "paths": [doc["path"] for docs in iter_documents(spool) for doc in docs],
    "imported": sorted(name for name in ("pandas", "pyarrow.dataset") if name in sys.modules),
}))
"""


def test_writing_counting_and_reading_a_spool_import_neither_pandas_nor_datasets(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "spool")], capture_output=True, text=True, check=True
    )
    report = json.loads(ran.stdout)
    assert report["counts"] == {"licenses": {"MIT": 1, "none": 1}, "license_sources": {"none": 2}}
    assert report["paths"] == ["a.py", "b.py"]
    assert report["imported"] == []

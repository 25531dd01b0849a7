"""The provisioning half of ``scripts/elasticsearch.py``: Java discovery, caching, unpacking, fallbacks.

Starting a node is covered by every Elasticsearch test (the session node comes from this script).
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from tests.support.es_node import load_script

script = load_script()


def fake_jdk(root: Path, version: str) -> Path:
    home = root / f"jdk-{version}"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'IMPLEMENTOR="test"\nJAVA_VERSION="{version}"\n')
    return home


@pytest.mark.parametrize(
    ("version", "major"), [("25.0.3", 25), ("21", 21), ("17.0.12", 17), ("1.8.0_402", 8)]
)
def test_java_major_reads_the_release_file(tmp_path, version, major):
    assert script.java_major(fake_jdk(tmp_path, version)) == major


def test_java_major_of_a_directory_without_java_is_none(tmp_path):
    assert script.java_major(tmp_path) is None


def test_es_java_home_is_used_when_new_enough(tmp_path, monkeypatch):
    jdk = fake_jdk(tmp_path, "22.0.1")
    monkeypatch.setenv("ES_JAVA_HOME", str(jdk))
    assert script.find_java_home() == jdk


def test_a_too_old_java_home_is_passed_over(tmp_path, monkeypatch):
    monkeypatch.setenv("ES_JAVA_HOME", str(fake_jdk(tmp_path, "17.0.2")))
    monkeypatch.setenv("JAVA_HOME", str(fake_jdk(tmp_path, "11.0.1")))
    try:
        found = script.find_java_home()
    except script.NodeError as exc:
        assert "Java 21+" in str(exc)
    else:
        assert found.parent == Path("/usr/lib/jvm")
        assert script.java_major(found) >= 21


def make_distribution(path: Path, version: str) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        launcher = zipfile.ZipInfo(f"elasticsearch-{version}/bin/elasticsearch")
        launcher.external_attr = (stat.S_IFREG | 0o755) << 16
        bundle.writestr(launcher, "#!/bin/sh\n")
        bundle.writestr(f"elasticsearch-{version}/config/elasticsearch.yml", "")
    return path


def test_a_cached_distribution_is_unpacked_once_with_its_file_modes(tmp_path):
    cache, work = tmp_path / "cache", tmp_path / "work"
    cache.mkdir()
    make_distribution(cache / "elasticsearch-9.9.9.zip", "9.9.9")
    version, home = script.provision(["9.9.9"], cache, work)
    assert version == "9.9.9"
    assert os.access(home / "bin" / "elasticsearch", os.X_OK)
    marker = home / "config" / "marker"
    marker.write_text("kept")
    assert script.provision(["9.9.9"], cache, work) == ("9.9.9", home)
    assert marker.read_text() == "kept"
    assert [p.name for p in work.iterdir()] == ["elasticsearch-9.9.9"]  # no staging left behind


def test_provisioning_falls_back_to_the_next_version_and_reports_every_failure(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "elasticsearch-0.0.1.zip").write_bytes(b"not a zip")
    make_distribution(cache / "elasticsearch-0.0.2.zip", "0.0.2")
    assert script.provision(["0.0.1", "0.0.2"], cache, tmp_path / "work")[0] == "0.0.2"
    assert not (cache / "elasticsearch-0.0.1.zip").exists(), "a damaged archive must not stay cached"
    (cache / "elasticsearch-0.0.1.zip").write_bytes(b"not a zip")
    with pytest.raises(script.NodeError, match=r"0\.0\.1: .*zip"):
        script.provision(["0.0.1"], cache, tmp_path / "work")

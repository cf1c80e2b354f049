"""Each setting defined once: the ``FMA_*`` registry in core/settings.py is the only reader of
those variables and what docs/configuration.md shows; shell defaults come from the core."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from fma_pipeline.core import settings
from fma_pipeline.core.settings import ENV_SETTINGS, environment_table

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "fma_pipeline"
NAMES = {s.name for s in ENV_SETTINGS}
#: An environment read with a literal name: os.environ[...], os.environ.get(...), os.getenv(...).
ENV_READ = re.compile(r"""(?:environ\s*(?:\.get\s*\(|\[)|getenv\s*\()\s*["'](FMA_[A-Z0-9_]+)""")


def _sources():
    return sorted(PACKAGE.rglob("*.py"))


def test_docs_configuration_shows_the_registry():
    text = (REPO / "docs" / "configuration.md").read_text()
    block = re.search(r"<!-- settings:begin -->\n(.*?)\n<!-- settings:end -->", text, re.S)
    assert block, "docs/configuration.md lost its settings block"
    assert block.group(1) == environment_table(), (
        "docs/configuration.md differs from core/settings.py: paste environment_table() between the markers")


def test_every_fma_variable_the_code_names_is_registered():
    """Any ``FMA_…`` name in a string of the package (code, messages, docstrings) is declared."""
    unknown = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for name in re.findall(r"\bFMA_[A-Z0-9_]*[A-Z0-9]\b", node.value):
                    if name not in NAMES:
                        unknown.setdefault(name, path.relative_to(REPO))
    assert not unknown, f"FMA_* variables named in code but not in core/settings.py: {unknown}"


def test_only_the_registry_reads_fma_variables():
    readers = [f"{path.relative_to(REPO)}: {m.group(1)}" for path in _sources() if path.name != "settings.py"
               for m in ENV_READ.finditer(path.read_text())]
    assert not readers, "read FMA_* variables through core/settings.py, not os.environ: " + "; ".join(readers)
    assert ENV_READ.search('os.environ.get("FMA_AUTOMATION", "on")')  # the pattern finds the old readers


@pytest.mark.parametrize("setting", ENV_SETTINGS, ids=lambda s: s.name)
def test_each_variable_has_a_default_that_parses_and_a_one_line_error(setting):
    setting.read({})  # the default itself parses
    assert len(setting.doc) > 20 and setting.name.startswith("FMA_")
    if setting.name in {"FMA_EXTRACTION_WORKERS", "FMA_PARTITIONS_PER_RUN"}:
        with pytest.raises(ValueError, match=rf"^{setting.name}='many': expected a whole number >= \d$"):
            setting.read({setting.name: "many"})


def test_blank_means_default_and_values_are_parsed():
    assert settings.AUTOMATION.read({"FMA_AUTOMATION": " Off "}) is False
    assert settings.AUTOMATION.read({"FMA_AUTOMATION": ""}) is True
    assert settings.EXECUTOR.read({"FMA_EXECUTOR": "Celery"}) == "celery"
    assert settings.MLFLOW_TRACKING_URI.read({"FMA_MLFLOW_TRACKING_URI": "  "}) is None
    assert settings.PARTITIONS_PER_RUN.read({}) is None
    assert settings.PARTITIONS_PER_RUN.read({"FMA_PARTITIONS_PER_RUN": "3"}) == 3
    assert settings.DATA_DIR.read({"FMA_DATA_DIR": "/srv/fma"}) == Path("/srv/fma")


def test_shell_defaults_come_from_the_core():
    from fma_pipeline.core.audio.decode import AudioLimits
    from fma_pipeline.core.audio.windows import SegmentConfig
    from fma_pipeline.core.learning.selection import LabelConfig
    from fma_pipeline.core.settings import field_doc
    from fma_pipeline.orchestration.assets.metadata import TracksConfig
    from fma_pipeline.orchestration.resources import Extraction

    resource = Extraction()
    assert (resource.min_seconds, resource.max_seconds) == (AudioLimits().min_seconds, AudioLimits().max_seconds)
    assert resource.segment_seconds == SegmentConfig().window_seconds == SegmentConfig().hop_seconds
    assert TracksConfig().to_core() == LabelConfig()
    schema = TracksConfig.model_json_schema()["properties"]
    for f in dataclasses.fields(LabelConfig):
        if f.default is not dataclasses.MISSING:
            assert schema[f.name]["description"] == field_doc(LabelConfig, f.name) != ""
    assert TracksConfig(subset="medium", drop_genres=["Rock"]).to_core() == LabelConfig("medium", ("Rock",))

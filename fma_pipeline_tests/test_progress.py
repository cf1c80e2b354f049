"""Progress goes to the run's log always and to stderr only for runs the CLI executes
(the ``console`` resource, not an environment variable)."""

from __future__ import annotations

import dagster as dg

from fma_pipeline.definitions import defs, resources
from fma_pipeline.orchestration.progress import Console


def test_progress_lines_reach_stderr_only_with_console_progress(capsys):
    context = dg.build_asset_context()
    # (the context's own log handler also writes to stderr, prefixed with time and level)
    Console(progress=True).logger(context)("genre_classifiers: 3/10 candidates")
    assert "genre_classifiers: 3/10 candidates" in capsys.readouterr().err.splitlines()
    Console().logger(context)("quiet line")
    assert "quiet line" not in capsys.readouterr().err.splitlines()


def test_the_bar_is_a_no_op_without_a_terminal():
    with Console().bar("extracting") as (update, set_total):
        assert (update, set_total) == (None, None)


def test_the_code_location_and_the_cli_defaults_differ_only_in_progress():
    assert defs.resources["console"].progress is False  # UI, daemon, Celery: no terminal
    assert resources(console=Console(progress=True))["console"].progress is True

"""A periodic re-scan of every folder with audio, in case the file sensor was off.

``rescan_schedule`` requests one ``extract_features`` run per folder that holds audio
(the extraction is incremental: unchanged files are reused, so a re-scan of an
unchanged folder only re-reads its Parquet). Its cron comes from ``FMA_RESCAN_CRON``
(default ``0 3 * * 0``, Sundays 03:00 UTC), read when the code location loads; it starts
STOPPED: switch it on in the UI (Automation) or with ``dagster schedule start``.
"""

from __future__ import annotations

import dagster as dg

from fma_pipeline.core import settings
from fma_pipeline.orchestration.resources import FmaData
from fma_pipeline.orchestration.sensors import EXTRACT_JOB, scan_folders

DEFAULT_RESCAN_CRON = settings.RESCAN_CRON.default


def rescan_cron() -> str:
    """``FMA_RESCAN_CRON`` or the default, checked by Dagster's own schedule validation
    (public API only: a throwaway definition), so a typo fails with the variable's name."""
    cron = settings.RESCAN_CRON.read()
    try:
        dg.ScheduleDefinition(name="cron_check", cron_schedule=cron, job_name=EXTRACT_JOB)
    except dg.DagsterInvalidDefinitionError as exc:
        raise ValueError(f"FMA_RESCAN_CRON={cron!r} is not a valid cron expression") from exc
    return cron


def build_rescan_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    """The schedule, with ``cron`` (default: :func:`rescan_cron`)."""

    @dg.schedule(
        name="rescan_schedule",
        cron_schedule=cron or rescan_cron(),
        job_name=EXTRACT_JOB,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        execution_timezone="UTC",
        description="Re-scan every FMA folder holding audio (one extract_features run per folder).",
    )
    def rescan_schedule(context: dg.ScheduleEvaluationContext, fma: FmaData):
        folders = scan_folders(fma.audio_dir)
        if not folders:
            return dg.SkipReason(f"no audio under {fma.audio_dir}")
        stamp = context.scheduled_execution_time.strftime("%Y%m%dT%H%M")
        return [dg.RunRequest(run_key=f"rescan-{stamp}-{key}", partition_key=key,
                              tags={"fma/trigger": "rescan_schedule"})
                for key in folders]

    return rescan_schedule


rescan_schedule = build_rescan_schedule()

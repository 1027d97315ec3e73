"""Background work on guides."""

from celery import shared_task

from guides import imports, search_log, view_counts


@shared_task(name="guides.tasks.flush_guide_view_counts", ignore_result=True)
def flush_guide_view_counts() -> int:
    """Move the guide views counted in the cache into the database; beat sends it.

    No retries: a failed flush puts its counts back in the cache and the next scheduled run
    takes them. Safe to run twice, or twice at once: each run takes only what is pending.
    """
    return view_counts.guide_view_counts_flush()


@shared_task(name="guides.tasks.prune_search_log", ignore_result=True)
def prune_search_log() -> int:
    """Delete the logged searches older than SEARCH_LOG_RETENTION_DAYS; beat sends it hourly.
    Safe to run twice: each run deletes what is old by then."""
    return search_log.search_log_prune()


@shared_task(name="guides.tasks.apply_guide_import", ignore_result=True)
def apply_guide_import(guide_import_id: int) -> None:
    """Import the checked files of an admin upload (guides.imports.guide_import_apply). Safe
    to run again after a crash or a redelivery: files already imported are skipped."""
    imports.guide_import_apply(guide_import_id=guide_import_id)

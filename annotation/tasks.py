from celery import shared_task

from annotation.assignment import assignments_expire as expire_leases


@shared_task(name="annotation.tasks.assignments_expire")
def assignments_expire() -> int:
    return expire_leases()

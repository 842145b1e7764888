import socket

from celery import shared_task

from annotation.assignment import assignments_expire as expire_leases
from annotation.pairing_jobs import PAIRING_JOB_TASK, pairing_job_execute, pairing_jobs_sweep


@shared_task(name="annotation.tasks.assignments_expire")
def assignments_expire() -> int:
    return expire_leases()


# acks_late + reject_on_worker_lost: a worker killed mid-job leaves the message to be redelivered; a redelivered
# message finds the job running (or done) and leaves it to the sweep, which re-queues a job whose heartbeat stopped.
@shared_task(name=PAIRING_JOB_TASK, acks_late=True, reject_on_worker_lost=True)
def pairing_job_run(job_id: int) -> None:
    pairing_job_execute(job_id=job_id, worker=socket.gethostname())


@shared_task(name="annotation.tasks.pairing_jobs_sweep")
def sweep_pairing_jobs() -> int:
    return pairing_jobs_sweep()

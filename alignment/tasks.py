import socket

from celery import shared_task

from alignment.fits import FIT_RUN_TASK, fit_run_execute, fit_runs_due, fit_runs_fail_stale
from alignment.turn_generation import turn_generation_execute
from annotation.conversation_turns import TURN_GENERATION_TASK


# acks_late + reject_on_worker_lost: a worker that dies mid-run leaves the message to be redelivered;
# the redelivered task finds the run no longer queued and leaves it to the stale check.
@shared_task(name=FIT_RUN_TASK, acks_late=True, reject_on_worker_lost=True)
def fit_run(run_id: int) -> None:
    fit_run_execute(run_id=run_id, worker=socket.gethostname())


# A live conversation turn, on the `generation` queue. A redelivered message finds the generation running (or done)
# and stores nothing twice (annotation/conversation_turns.py); a stale running one is claimed again.
@shared_task(name=TURN_GENERATION_TASK, acks_late=True, reject_on_worker_lost=True)
def turn_generation_run(generation_id: int) -> str:
    return turn_generation_execute(generation_id=generation_id)


@shared_task(name="alignment.tasks.fit_runs_fail_stale")
def fail_stale_fit_runs() -> int:
    return fit_runs_fail_stale()


@shared_task(name="alignment.tasks.fit_runs_due")
def launch_due_fit_runs() -> int:
    return len(fit_runs_due())


@shared_task(name="alignment.tasks.dashboards_refresh")
def refresh_dashboards() -> int:
    from alignment.dashboards.refresh import dashboards_refresh

    return dashboards_refresh()

"""The task broker, every call bounded: a broker that is down or frozen costs a launch a few seconds and a
503, never a hung request (settings.BROKER_TIMEOUT_SECONDS bounds the connect, the check and the publish)."""

from django.conf import settings
from kombu import Connection

from annotation.errors import Unavailable


def broker_connection() -> Connection:
    from pluralweb.celery import app

    timeout = settings.BROKER_TIMEOUT_SECONDS
    return app.connection_for_write(
        url=settings.CELERY_BROKER_URL, connect_timeout=timeout,
        transport_options={**settings.CELERY_BROKER_TRANSPORT_OPTIONS},
    )


def _unavailable(exc: Exception, what: str) -> Unavailable:
    return Unavailable(f"the task broker is unreachable ({exc.__class__.__name__}: {exc}); {what}",
                       code="broker_unavailable")


def broker_check() -> None:
    """Fail at once, with the reason, when no worker could ever receive a job."""
    try:
        with broker_connection() as broker:
            broker.ensure_connection(max_retries=1, timeout=settings.BROKER_TIMEOUT_SECONDS)
            broker.channel().close()  # virtual transports (Redis, SQLAlchemy) talk to the server only for a channel
    except Exception as exc:  # kombu raises the transport's own error types
        raise _unavailable(exc, "nothing was launched") from None


def task_publish(name: str, *, args: list) -> None:
    """Send one message for the task registered under `name`, once: no retry loop that could outlast the
    request. By name, so that services need not import the task modules that import them."""
    from pluralweb.celery import app

    try:
        with broker_connection() as broker:
            app.send_task(name, args=args, connection=broker, retry=False)
    except Exception as exc:  # the broker went away or froze between the check and the send
        raise _unavailable(exc, "the job was not sent") from None

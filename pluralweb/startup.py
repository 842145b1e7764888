"""Work a web process does once when it starts, off the request path.

Without it the first requests of a fresh process pay for it: the URLconf (imported on the first
request) pulls in torch through the reward and examples API, the first study upload loads the
sentence-transformers model, and the first encode initialises it further; 8-30 s in all. A daemon
thread does all of it while the server already listens; a request that needs a piece before the thread
is done waits on Python's import lock or the encoder's cache, never longer than it would have anyway.
"""

import gc
import logging
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)
_finished = threading.Event()  # set once the warm-up ended (done or failed)


def warm_up_finished() -> bool:
    """Whether this process is past its warm-up (always, when PLURALWEB_WARM_UP is off): /healthz says
    so, for a readiness check that keeps traffic away while the model loads."""
    return _finished.is_set() or not settings.PLURALWEB_WARM_UP


def warm_up() -> float:
    """Import the URLconf (and with it every view and its libraries), load the embedding model and
    encode one text; returns the seconds it took."""
    from django.urls import get_resolver

    from alignment.embedding_store import configured_encoder
    from alignment.embeddings import encode_texts

    started = time.perf_counter()
    get_resolver().url_patterns  # noqa: B018 (the attribute's first read imports every urls module)
    encode_texts(configured_encoder(settings.EMBEDDING_MODEL), ["warm up"])
    return time.perf_counter() - started


def warm_up_in_background() -> threading.Thread | None:
    """Start warm_up in a daemon thread when PLURALWEB_WARM_UP is on (the default)."""
    if not settings.PLURALWEB_WARM_UP:
        return None
    thread = threading.Thread(target=_warm_up_logged, name="pluralweb-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up_logged() -> None:
    try:
        log.info("warm-up done in %.1f s (URLconf, embedding model)", warm_up())
    except Exception:
        # The requests that need the model will raise the same error where someone sees it.
        log.exception("warm-up failed; the first requests will load what they need themselves")
    gc_freeze_loaded()
    _finished.set()


def gc_freeze_loaded() -> None:
    """Move what is loaded now out of the garbage collector's reach. The model and its libraries are about
    500k long-lived objects that every full collection would walk again: left in, they cost the annotation
    loop about 1 ms of CPU per judgment (bench/annotation_loop.py); frozen, nothing."""
    gc.collect()
    gc.freeze()

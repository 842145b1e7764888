"""What the crowd browser tests share: joining a study through its link as a Prolific participant."""


def join_by_link(page, live_server, slug: str, pid: str, party: str = "D") -> None:
    """Open the study link with a crowd id, consent, fill the profile and wait for the first pair."""
    page.goto(f"{live_server.url}/s/{slug}/?PROLIFIC_PID={pid}")
    page.check("#consent")
    page.click("#accept")
    page.select_option("#attr-party", party)
    page.click("#start")
    page.wait_for_selector("#judge-form")
    # The task's key handlers come with deferred scripts, which run before DOMContentLoaded: a key pressed
    # before then is lost (seen under load in CI).
    page.wait_for_load_state("domcontentloaded")

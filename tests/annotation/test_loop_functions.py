"""The annotation loop's PostgreSQL functions have one source: the versioned files in annotation/loop_sql/.
The database the migrations build holds exactly CURRENT's text, and an installed file never changes."""

import pytest
from django.core.management import call_command
from django.db import connection

from annotation.loop_functions import CURRENT, PINNED, loop_function_body, loop_function_sha256

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side functions: PostgreSQL only")


def _installed_body(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [f"pluralweb_{name}"])
        rows = cursor.fetchall()
    assert len(rows) == 1, f"pluralweb_{name}: {len(rows)} functions of that name installed"
    return rows[0][0]


def test_no_installed_function_file_was_edited():
    changed = [f"{name}.v{version}.sql" for (name, version), sha in PINNED.items()
               if loop_function_sha256(name, version) != sha]
    assert not changed, f"edited after a migration installed them (add a new version instead): {changed}"


def test_every_current_version_is_pinned():
    assert all((name, version) in PINNED for name, version in CURRENT.items())


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(CURRENT))
def test_the_installed_function_is_the_current_text(name):
    assert _installed_body(name) == loop_function_body(name, CURRENT[name])


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_migrating_replaces_a_function_left_from_an_earlier_text():
    # A database migrated before 0008 was edited: its function differs from the text in the repository.
    current = loop_function_body("judgment_submit", CURRENT["judgment_submit"])
    stale = current + "-- an earlier text\n"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('pluralweb_judgment_submit'::regproc)")
        definition = cursor.fetchone()[0]
        cursor.execute(definition.replace(current, stale))
    assert _installed_body("judgment_submit") == stale
    call_command("migrate", "annotation", "0010", verbosity=0)
    call_command("migrate", "annotation", verbosity=0)
    assert _installed_body("judgment_submit") == loop_function_body("judgment_submit", CURRENT["judgment_submit"])


"""The annotation loop's PostgreSQL functions (`next` and submit in one round trip each): one versioned
text per function, in annotation/loop_sql/<name>.v<N>.sql, installed by migrations.

To change a function: copy its newest file to the next version (`pair_next.v2.sql`), edit the copy, pin its
sha256 below, point CURRENT at it, and add a migration that runs
`loop_functions_install(schema_editor, {"pair_next": 2})`. Never edit a file or a migration that has been
applied: a database migrated before the edit would keep the old function (and read its rows wrongly).
tests/annotation/test_loop_functions.py checks the pins and that the installed functions equal CURRENT.
The SQLite path (annotation/assignment.py, annotation/judgments.py; for sets annotation/set_assignment.py,
annotation/set_submit.py) runs the same rules statement by statement.
"""

import hashlib
import re
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "loop_sql"

# name -> version the newest migration installs.
CURRENT = {
    "slot_claim": 2, "pair_next": 2, "judgment_submit": 3, "gold_next": 1,
    "folded_variance": 1, "divergence_variance": 1, "pair_allocate": 1, "set_next": 1, "set_submit": 1,
}

# Every version some migration installs, by the sha256 of its file: a changed file fails the test.
PINNED = {
    ("gold_next", 1): "a400511df2677489926f67cc82799be514db5660909e1db4737fc3d824e146f2",
    ("slot_claim", 1): "c925af7ada812e20786c2d4001170619b689fee761c0c8c222bcff03aa089a88",
    ("slot_claim", 2): "08b2dbd03fd092e6c9ca7f79db2a2b4ce5db8b971b884728c6d134668e5b5a41",
    ("pair_next", 1): "f72dd7f8d9775bf9cc05e447d97375c61e65bb0fd7e7a53c00e5c079775fd09a",
    ("judgment_submit", 1): "b15ef2df7b13a57b80b4292c5aa66fd005406dcc83931ec45fefc3dc84c3f438",
    ("judgment_submit", 2): "5b43e589080aec00614691ae51175efd96cd00797d06688f34e8f3560d47780d",
    ("pair_next", 2): "bc0169b023d3b83b02ccbf06c358b610468195e7a29d7be7e220598091945b96",
    ("judgment_submit", 3): "a740fa9a1df0fc1d908ba96320bdd887b9a270824472663042bad2f088535858",
    ("pair_allocate", 1): "602e8c8b48c932e7a076649ff056761add52efa41a0fea81e47455f4798ffe24",
    ("folded_variance", 1): "7b129e1f717ebd2be076fca6e816b75516aaee312b398a535ee3a9ddf32a5a18",
    ("divergence_variance", 1): "9d14e347fe9324a7f43062c5fe25c10d72a0cafa2764b50e7e39261316915cd7",
    ("set_next", 1): "ad0207b1d1eba3a09cfe3b092affd1778e8ba7fc6f6602d2390b1070fb61e7e8",
    ("set_submit", 1): "36718cd1c1306ecd89d0312d2f53dce891c9dbdb6c497dbf0314299cb03d9728",
}


def loop_function_path(name: str, version: int) -> Path:
    return SQL_DIR / f"{name}.v{version}.sql"


def loop_function_sql(name: str, version: int) -> str:
    return loop_function_path(name, version).read_text()


def loop_function_sha256(name: str, version: int) -> str:
    return hashlib.sha256(loop_function_path(name, version).read_bytes()).hexdigest()


def loop_function_body(name: str, version: int) -> str:
    """The text between the dollar quotes: what PostgreSQL stores as the function's `prosrc`."""
    match = re.search(r"\$\$(.*)\$\$", loop_function_sql(name, version), flags=re.DOTALL)
    if match is None:
        raise ValueError(f"{loop_function_path(name, version)}: no $$-quoted body")
    return match.group(1)


def loop_functions_install(schema_editor, versions: dict[str, int]) -> None:
    """Install the given versions (CREATE OR REPLACE); a no-op on SQLite, which has no server-side functions."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, version in versions.items():
        schema_editor.execute(loop_function_sql(name, version))

"""The OpenAPI schema is true: generated without warnings, each operation with its own request body, its
4xx answers and, for the export, the media types it really returns."""

import io

import pytest
import yaml
from django.core.management import call_command


@pytest.fixture(scope="module")
def schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def _body_ref(operation: dict) -> str:
    return operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def test_the_schema_validates_without_warnings(schema):
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(("path", "component"), [
    ("/api/judgments/", "JudgmentSubmitInput"),
    ("/api/studies/{slug}/join/", "JoinInput"),
    ("/api/studies/{slug}/fits/", "FitLaunchInput"),
    ("/api/studies/{slug}/reward/", "RewardInput"),
    ("/api/studies/{slug}/mixture/", "MixtureInput"),
    ("/api/studies/{slug}/examples/", "ExamplesInput"),
])
def test_each_operation_publishes_its_own_request_body(schema, path, component):
    assert _body_ref(schema["paths"][path]["post"]) == component
    assert component in schema["components"]["schemas"]


def test_every_operation_documents_its_refusals(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert {"401", "403"} <= codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= codes, (method, path)
            for code, response in operation["responses"].items():
                if code.startswith("4"):
                    assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_the_export_documents_ndjson_and_csv(schema):
    content = schema["paths"]["/api/studies/{slug}/export/"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/x-ndjson", "text/csv"}


def test_the_loop_submit_documents_its_conflicts(schema):
    assert {"409", "410", "404"} <= set(schema["paths"]["/api/judgments/"]["post"]["responses"])


def test_the_throttled_doors_document_429(schema):
    # Found by the fuzz test in CI: a burst of bad logins reached the login throttle, an undocumented status.
    for path in ("/api/auth/token/", "/api/studies/{slug}/join/"):
        assert "429" in schema["paths"][path]["post"]["responses"], path
    assert "429" not in schema["paths"]["/api/judgments/"]["post"]["responses"]  # the loop is never throttled


def test_the_judgment_import_documents_its_formats_and_the_annotators_upload(schema):
    body = schema["paths"]["/api/studies/{slug}/judgments/import/"]["post"]["requestBody"]["content"]
    properties = body["multipart/form-data"]["schema"]["properties"]
    assert properties["format"]["enum"] == ["jsonl", "community-alignment", "collective-alignment"]
    assert properties["format"]["default"] == "jsonl"
    assert properties["annotators"]["format"] == properties["file"]["format"] == "binary"


def test_the_export_documents_the_set_formats_and_the_annotators_part(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/studies/{slug}/export/"]["get"]["parameters"]}
    assert set(parameters["format"]["schema"]["enum"]) == {"jsonl", "csv", "community-alignment",
                                                           "collective-alignment"}
    assert set(parameters["part"]["schema"]["enum"]) == {"judgments", "annotators"}

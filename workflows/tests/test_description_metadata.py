"""A workflow's `description` and `metadata`: kept as given, validated with the field named, shown
and edited in the API, the dashboard and the admin."""

from __future__ import annotations

import json

import pytest

from accounts.models import AuditLog
from notifications.models import Notification
from workflows import services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

URL = "/api/v1/workflows"
CONTRACT_ORDER = [
    "id",
    "user_id",
    "name",
    "description",
    "kind",
    "payload",
    "interval",
    "schedule",
    "timezone",
    "max_consecutive_job_failures_allowed",
    "consecutive_job_failures_count",
    "concurrency_policy",
    "tags",
    "metadata",
    "start_at",
    "end_at",
    "build_status",
    "build_error",
    "next_run_at",
    "paused_at",
    "ping_url",
    "created_at",
    "updated_at",
    "terminated_at",
]
METADATA = {"team": "data", "owner": {"email": "ops@example.com"}, "weights": [1, 2.5, None, True], "ünï": "cödé"}


def body(**fields) -> dict:
    return {"name": "wf", "kind": "HEARTBEAT", "payload": {}, "interval": 5, **fields}


def metadata_of_size(size: int) -> dict:
    """An object whose compact UTF-8 JSON encoding is exactly `size` bytes."""
    value = {"blob": ""}
    value["blob"] = "x" * (size - len(json.dumps(value, separators=(",", ":"))))
    return value


def test_a_new_workflow_has_an_empty_description_and_metadata_by_default(auth_api):
    response = auth_api.post(URL, body(), format="json")

    assert response.status_code == 201
    assert response.json()["description"] == ""
    assert response.json()["metadata"] == {}


def test_description_and_metadata_are_returned_as_given_in_the_contracts_field_order(auth_api):
    description = "  Nightly export.\nPages the data team on failure.  "

    created = auth_api.post(URL, body(description=description, metadata=METADATA), format="json").json()
    fetched = auth_api.get(f"{URL}/{created['id']}").json()
    listed = auth_api.get(URL).json()["workflows"][0]

    for workflow in (created, fetched, listed):
        assert list(workflow) == CONTRACT_ORDER
        assert workflow["description"] == description
        assert workflow["metadata"] == METADATA
    assert Workflow.objects.get(pk=created["id"]).metadata == METADATA


def test_the_size_limits_are_inclusive(auth_api):
    response = auth_api.post(URL, body(description="d" * 2000, metadata=metadata_of_size(16 * 1024)), format="json")
    over = auth_api.post(URL, body(metadata=metadata_of_size(16 * 1024 + 1)), format="json")

    assert response.status_code == 201, response.content
    assert over.status_code == 400
    assert list(over.json()["error"]["fields"]) == ["metadata"]


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"metadata": [1, 2]}, "metadata"),
        ({"metadata": "text"}, "metadata"),
        ({"metadata": 3}, "metadata"),
        ({"metadata": None}, "metadata"),
        ({"description": 3}, "description"),
        ({"description": "d" * 2001}, "description"),
    ],
)
def test_a_wrong_type_or_size_is_a_400_naming_exactly_that_field(auth_api, fields, name):
    response = auth_api.post(URL, body(**fields), format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert list(error["fields"]) == [name]
    assert name in error["message"]


def test_patch_replaces_description_and_metadata_and_reports_the_change(auth_api, user):
    workflow_id = auth_api.post(URL, body(metadata={"a": 1, "b": 2}), format="json").json()["id"]

    response = auth_api.patch(
        f"{URL}/{workflow_id}", {"description": "now described", "metadata": {"c": [3]}}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["description"] == "now described"
    # An update replaces the object whole; nothing of the old one is merged in.
    assert response.json()["metadata"] == {"c": [3]}
    notification = Notification.objects.get(user=user, kind="WORKFLOW_UPDATED")
    assert notification.payload["changes"] == ["description", "metadata"]
    audit = AuditLog.objects.get(user=user, action="workflow.updated")
    assert audit.details["changes"] == ["description", "metadata"]


def test_patch_can_clear_them(auth_api):
    workflow_id = auth_api.post(URL, body(description="x", metadata={"a": 1}), format="json").json()["id"]

    response = auth_api.patch(f"{URL}/{workflow_id}", {"description": "", "metadata": {}}, format="json")

    assert response.json()["description"] == ""
    assert response.json()["metadata"] == {}


def test_patch_with_the_same_metadata_changes_nothing(auth_api, user):
    workflow_id = auth_api.post(URL, body(metadata={"a": {"b": 1}}), format="json").json()["id"]

    response = auth_api.patch(f"{URL}/{workflow_id}", {"metadata": {"a": {"b": 1}}}, format="json")

    assert response.status_code == 200
    assert not Notification.objects.filter(user=user, kind="WORKFLOW_UPDATED").exists()


def test_idempotent_create_compares_description_and_metadata_too(auth_api):
    first_body = body(description="once", metadata={"x": 1, "y": [1, 2]})
    reordered = body(metadata={"y": [1, 2], "x": 1}, description="once")
    headers = {"HTTP_IDEMPOTENCY_KEY": "meta-1"}

    first = auth_api.post(URL, first_body, format="json", **headers)
    repeat = auth_api.post(URL, reordered, format="json", **headers)
    other_metadata = auth_api.post(
        URL, body(description="once", metadata={"x": 2, "y": [1, 2]}), format="json", **headers
    )
    other_description = auth_api.post(
        URL, body(description="twice", metadata={"x": 1, "y": [1, 2]}), format="json", **headers
    )

    assert first.status_code == repeat.status_code == 201
    assert repeat.json()["id"] == first.json()["id"]
    assert other_metadata.status_code == other_description.status_code == 409
    assert Workflow.objects.count() == 1


def test_the_list_filters_do_not_look_at_description_or_metadata(auth_api):
    auth_api.post(URL, body(name="alpha", description="beta", metadata={"tag": "gamma"}), format="json")

    assert [w["name"] for w in auth_api.get(URL, {"query": "alpha"}).json()["workflows"]] == ["alpha"]
    assert auth_api.get(URL, {"query": "beta"}).json()["workflows"] == []
    assert auth_api.get(URL, {"tag": "gamma"}).json()["workflows"] == []


def test_the_openapi_schema_documents_both_fields(api):
    import yaml

    schema = yaml.safe_load(api.get("/api/schema/").content)
    components = schema["components"]["schemas"]
    workflow = components["Workflow"]["properties"]
    assert list(workflow)[:5] == ["id", "user_id", "name", "description", "kind"]
    assert workflow["metadata"]["type"] == "object"
    assert workflow["description"]["type"] == "string"
    for variant in components["WorkflowFieldsRequest"]["oneOf"]:
        properties = variant["properties"]
        assert properties["metadata"]["type"] == "object"
        assert properties["description"]["maxLength"] == 2000
        assert "metadata" not in variant["required"]
        assert "description" not in variant["required"]
    assert components["PatchedWorkflowUpdateRequest"]["properties"]["metadata"]["type"] == "object"


# The dashboard


def create_form(**overrides) -> dict:
    return {
        "name": "ping",
        "description": "",
        "kind": "HEARTBEAT",
        "payload": "{}",
        "timing": "interval",
        "interval": "5",
        "timezone": "UTC",
        "max_consecutive_job_failures_allowed": "3",
        "concurrency_policy": "FORBID",
        "tags": "",
        "metadata": "",
        "start_at": "",
        "end_at": "",
        **overrides,
    }


def test_the_dashboard_creates_a_workflow_with_description_and_metadata(client, user):
    client.force_login(user)

    response = client.post(
        "/workflows/new/",
        create_form(description="Line one\r\nline two", metadata='{"team": "data", "n": [1, 2]}'),
        follow=True,
    )

    workflow = Workflow.objects.get(user=user)
    assert workflow.description == "Line one\nline two"
    assert workflow.metadata == {"team": "data", "n": [1, 2]}
    page = response.content.decode()
    assert "Line one<br>line two" in page
    assert "&quot;team&quot;: &quot;data&quot;" in page


def test_the_dashboard_form_leaves_metadata_empty_as_an_empty_object(client, user):
    client.force_login(user)

    client.post("/workflows/new/", create_form())

    assert Workflow.objects.get(user=user).metadata == {}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [("{not json", "Not valid JSON"), ("[1, 2]", "Must be a JSON object."), ("NaN", "Must be a JSON object.")],
)
def test_the_dashboard_shows_a_bad_metadata_next_to_its_input(client, user, metadata, message):
    client.force_login(user)

    response = client.post("/workflows/new/", create_form(metadata=metadata))

    assert response.status_code == 400
    assert message in response.context["form"].errors["metadata"][0]
    assert not Workflow.objects.exists()


def test_the_dashboard_refuses_a_long_description_on_its_input(client, user):
    client.force_login(user)

    response = client.post("/workflows/new/", create_form(description="d" * 2001))

    assert response.status_code == 400
    assert response.context["form"].errors["description"]


def test_the_edit_form_is_prefilled_with_them_and_saves_a_change(client, user):
    workflow, _ = services.workflow_create(user=user, data=body(description="old\ntext", metadata={"a": 1}))
    client.force_login(user)

    form = client.get(f"/workflows/{workflow.id}/edit/").context["form"]
    assert form.initial["description"] == "old\ntext"
    assert json.loads(form.initial["metadata"]) == {"a": 1}

    values = {
        "name": "wf",
        "description": "old\r\ntext",
        "payload": "{}",
        "timing": "interval",
        "interval": "5",
        "timezone": "UTC",
        "max_consecutive_job_failures_allowed": "3",
        "concurrency_policy": "FORBID",
        "tags": "",
        "metadata": '{"a": 2}',
    }
    client.post(f"/workflows/{workflow.id}/edit/", values)

    workflow.refresh_from_db()
    assert workflow.metadata == {"a": 2}
    assert workflow.description == "old\ntext"
    # Only metadata changed: the description sent back with CRLF line breaks is the same text.
    assert AuditLog.objects.get(action="workflow.updated").details["changes"] == ["metadata"]


# The admin


def test_the_admin_shows_and_searches_descriptions(admin_client, user):
    workflow, _ = services.workflow_create(
        user=user, data=body(name="nightly", description="exports the ledger", metadata={"team": "finance"})
    )

    found = admin_client.get("/admin/workflows/workflow/", {"q": "ledger"}).content.decode()
    missed = admin_client.get("/admin/workflows/workflow/", {"q": "nothing-like-it"}).content.decode()
    page = admin_client.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()

    assert "nightly" in found
    assert "nightly" not in missed
    assert "exports the ledger" in page
    assert "finance" in page


def admin_values(workflow: Workflow, **changes) -> dict:
    return {
        "name": workflow.name,
        "description": workflow.description,
        "metadata": json.dumps(workflow.metadata),
        "builds-TOTAL_FORMS": "0",
        "builds-INITIAL_FORMS": "0",
        "builds-MIN_NUM_FORMS": "0",
        "builds-MAX_NUM_FORMS": "1000",
        **changes,
    }


def test_the_admin_edits_description_and_metadata_through_the_service(admin_client, user):
    workflow, _ = services.workflow_create(user=user, data=body(description="before", metadata={"a": 1}))

    response = admin_client.post(
        f"/admin/workflows/workflow/{workflow.pk}/change/",
        admin_values(workflow, description="after", metadata='{"b": [2]}'),
    )

    assert response.status_code == 302, response.content
    workflow.refresh_from_db()
    assert workflow.description == "after"
    assert workflow.metadata == {"b": [2]}
    assert AuditLog.objects.get(user=user, action="workflow.updated").details["changes"] == [
        "description",
        "metadata",
    ]


def test_the_admin_refuses_metadata_that_is_not_an_object_on_its_input(admin_client, user):
    workflow, _ = services.workflow_create(user=user, data=body(metadata={"a": 1}))

    response = admin_client.post(
        f"/admin/workflows/workflow/{workflow.pk}/change/", admin_values(workflow, metadata="[1, 2]")
    )

    assert response.status_code == 200
    assert "Must be a JSON object." in response.context["adminform"].form.errors["metadata"][0]
    workflow.refresh_from_db()
    assert workflow.metadata == {"a": 1}

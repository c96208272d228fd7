"""REST endpoints of workflows."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.request_types import AuthenticatedRequest
from accounts.services import RequestContext
from chronoverse.errors import ServiceError
from chronoverse.pagination import keyset_page
from chronoverse.schema import page_parameters
from chronoverse.serializers import ModelSerializer, format_timestamp
from workflows import selectors, services
from workflows.models import BuildStatus, Workflow, WorkflowBuild, WorkflowKind
from workflows.pings import ping_url
from workflows.validation import MetadataField, PayloadField, ScheduleField, WorkflowFields


class WorkflowSerializer(ModelSerializer):
    user_id = serializers.UUIDField(read_only=True)
    ping_url = serializers.URLField(
        read_only=True, allow_null=True, help_text="For a ping workflow, the URL its own job calls; null otherwise."
    )
    payload = PayloadField()
    schedule = ScheduleField(allow_null=True)
    metadata = MetadataField()

    class Meta:
        model = Workflow
        fields = [
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

    def to_representation(self, workflow: Workflow) -> dict:
        # A list of 50 is the API's busiest read: building the dict directly costs a fraction of
        # DRF's field-by-field walk, for the very same output (a test compares the two).
        return {
            "id": str(workflow.id),
            "user_id": str(workflow.user_id),
            "name": workflow.name,
            "description": workflow.description,
            "kind": workflow.kind,
            "payload": workflow.payload,
            "interval": workflow.interval,
            "schedule": workflow.schedule,
            "timezone": workflow.timezone,
            "max_consecutive_job_failures_allowed": workflow.max_consecutive_job_failures_allowed,
            "consecutive_job_failures_count": workflow.consecutive_job_failures_count,
            "concurrency_policy": workflow.concurrency_policy,
            "tags": list(workflow.tags),
            "metadata": workflow.metadata,
            "start_at": format_timestamp(workflow.start_at),
            "end_at": format_timestamp(workflow.end_at),
            "build_status": workflow.build_status,
            "build_error": workflow.build_error,
            "next_run_at": format_timestamp(workflow.next_run_at),
            "paused_at": format_timestamp(workflow.paused_at),
            "ping_url": ping_url(workflow),
            "created_at": format_timestamp(workflow.created_at),
            "updated_at": format_timestamp(workflow.updated_at),
            "terminated_at": format_timestamp(workflow.terminated_at),
        }


class WorkflowUpdateFields(WorkflowFields):
    class Meta:
        ref_name = "WorkflowUpdate"


_LIST_PARAMS = [
    OpenApiParameter("kind", str, enum=WorkflowKind.values),
    OpenApiParameter("build_status", str, enum=BuildStatus.values),
    OpenApiParameter("terminated", str, enum=["true", "false"]),
    OpenApiParameter("paused", str, enum=["true", "false"]),
    OpenApiParameter("tag", str),
    OpenApiParameter("query", str, description="Name contains (case-insensitive)"),
    *page_parameters(),
]


@extend_schema(tags=["workflows"])
class WorkflowListView(APIView):
    @extend_schema(
        operation_id="workflows_list",
        parameters=_LIST_PARAMS,
        responses=inline_serializer(
            "WorkflowList",
            {"workflows": WorkflowSerializer(many=True), "cursor": serializers.CharField(allow_null=True)},
        ),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page = keyset_page(
            selectors.workflow_list(user=request.user, filters=request.query_params), request.query_params
        )
        return Response({"workflows": WorkflowSerializer(page.items, many=True).data, "cursor": page.cursor})

    @extend_schema(
        request=WorkflowFields,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "minLength": 1, "maxLength": 255},
                location=OpenApiParameter.HEADER,
                description="Repeat-safe creation: same key and body, same workflow",
            )
        ],
        responses={201: WorkflowSerializer, 409: OpenApiResponse(description="Key reused with another body")},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        workflow, _ = services.workflow_create(
            user=request.user,
            data=request.data,
            idempotency_key=request.headers.get("Idempotency-Key"),
            context=RequestContext.from_request(request),
        )
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["workflows"])
class WorkflowDetailView(APIView):
    @extend_schema(responses=WorkflowSerializer)
    def get(self, request: AuthenticatedRequest, workflow_id) -> Response:
        return Response(WorkflowSerializer(selectors.workflow_get(user=request.user, workflow_id=workflow_id)).data)

    @extend_schema(
        request=WorkflowUpdateFields,
        responses={200: WorkflowSerializer, 409: OpenApiResponse(description="Terminated")},
    )
    def patch(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        workflow = services.workflow_update(
            workflow=workflow, data=request.data, context=RequestContext.from_request(request)
        )
        return Response(WorkflowSerializer(workflow).data)


class _WorkflowActionView(APIView):
    """POST to a workflow's action: one service call on the caller's own workflow, the Workflow back."""

    service: Callable[..., Workflow]

    @extend_schema(request=None, responses={200: WorkflowSerializer, 409: OpenApiResponse(description="Terminated")})
    def post(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        workflow = type(self).service(workflow=workflow, context=RequestContext.from_request(request))
        return Response(WorkflowSerializer(workflow).data)


@extend_schema(tags=["workflows"])
class WorkflowPauseView(_WorkflowActionView):
    service = services.workflow_pause


@extend_schema(tags=["workflows"])
class WorkflowResumeView(_WorkflowActionView):
    service = services.workflow_resume


@extend_schema(tags=["workflows"])
@extend_schema_view(
    post=extend_schema(
        operation_id="workflow_ping_key_rotate",
        request=None,
        responses={200: WorkflowSerializer, 409: OpenApiResponse(description="Not a ping workflow, or terminated")},
    )
)
class WorkflowPingKeyView(_WorkflowActionView):
    service = services.workflow_rotate_ping_key


class BuildSerializer(ModelSerializer):
    class Meta:
        model = WorkflowBuild
        fields = ["id", "generation", "status", "image_ref", "output", "error"]
        fields += ["created_at", "started_at", "finished_at"]


@extend_schema(tags=["workflows"])
class WorkflowBuildView(APIView):
    """A CONTAINER workflow's latest build with its output (the dashboard's build panel)."""

    @extend_schema(
        operation_id="workflow_build_get",
        responses={200: BuildSerializer, 404: OpenApiResponse(description="Not a CONTAINER workflow, or unknown")},
    )
    def get(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        build = selectors.workflow_latest_build(workflow=workflow)
        if build is None:
            raise ServiceError("This workflow has no build (only CONTAINER workflows do).", code="not_found")
        return Response(BuildSerializer(build).data)


@extend_schema(tags=["workflows"])
class WorkflowRebuildView(APIView):
    """Build a CONTAINER workflow's image again: the build is queued (202), a running one canceled."""

    @extend_schema(
        operation_id="workflow_rebuild",
        request=None,
        responses={
            202: BuildSerializer,
            409: OpenApiResponse(description="Not a CONTAINER workflow, or terminated"),
        },
    )
    def post(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        build = services.workflow_rebuild(workflow=workflow, context=RequestContext.from_request(request))
        return Response(BuildSerializer(build).data, status=status.HTTP_202_ACCEPTED)

"""REST endpoints of jobs and their logs, and the Server-Sent Events stream."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiToken
from accounts.request_types import AuthenticatedRequest
from accounts.services import RequestContext
from chronoverse.errors import ServiceError
from chronoverse.pagination import keyset_page
from chronoverse.schema import page_parameters
from chronoverse.serializers import ModelSerializer
from jobs import live, selectors, services
from jobs.logs import LogLine
from jobs.models import Job, JobLog, JobStatus, JobTrigger, Ping
from notifications.relay import get_relay, until_set
from workflows import api as workflow_api
from workflows import selectors as workflow_selectors
from workflows.api import WorkflowSerializer


# The Job resource is written by services.job_status_data (also the live `status` events); the
# fields are its keys and only describe it in the schema (a docstring would become its description).
class JobSerializer(ModelSerializer):
    workflow_id = serializers.UUIDField(read_only=True)
    upstream_job_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="For a DEPENDENCY job, the upstream job whose end started it."
    )

    class Meta:
        model = Job
        fields = list(services.job_status_data(Job()))

    def to_representation(self, job: Job) -> dict:
        return services.job_status_data(job)


# A Log is written by LogLine.as_dict (also the live and raw streams); the fields only describe
# it in the schema (a docstring here would become the schema's description).
class LogSerializer(ModelSerializer):
    class Meta:
        model = JobLog
        fields = list(LogLine._fields)

    def to_representation(self, row: JobLog) -> dict:
        return LogLine.of(row).as_dict()


class PingSerializer(ModelSerializer):
    job_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Ping
        fields = ["id", "kind", "exit_status", "received_at", "remote_addr", "user_agent", "body", "job_id"]


_PAGE = page_parameters()


@extend_schema(tags=["jobs"])
class WorkflowJobsView(APIView):
    @extend_schema(
        operation_id="workflow_jobs_list",
        parameters=[
            OpenApiParameter("status", str, enum=JobStatus.values),
            OpenApiParameter("trigger", str, enum=JobTrigger.values),
            *_PAGE,
        ],
        responses=inline_serializer(
            "JobList", {"jobs": JobSerializer(many=True), "cursor": serializers.CharField(allow_null=True)}
        ),
    )
    def get(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = workflow_selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        page = keyset_page(
            selectors.job_list_for_workflow(workflow=workflow, filters=request.query_params), request.query_params
        )
        return Response({"jobs": JobSerializer(page.items, many=True).data, "cursor": page.cursor})

    @extend_schema(
        operation_id="workflow_jobs_run",
        request=None,
        responses={201: JobSerializer, 409: OpenApiResponse(description="Terminated, or not built")},
    )
    def post(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = workflow_selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        job = services.job_run_manually(
            workflow=workflow, user=request.user, context=RequestContext.from_request(request)
        )
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["jobs"])
class JobDetailView(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request: AuthenticatedRequest, job_id) -> Response:
        return Response(JobSerializer(selectors.job_get(user=request.user, job_id=job_id)).data)


@extend_schema(tags=["jobs"])
class JobCancelView(APIView):
    @extend_schema(request=None, responses={200: JobSerializer, 409: OpenApiResponse(description="Already finished")})
    def post(self, request: AuthenticatedRequest, job_id) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        job = services.job_cancel_by_user(job=job, user=request.user, context=RequestContext.from_request(request))
        return Response(JobSerializer(job).data)


@extend_schema(tags=["jobs"])
class JobLogsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("stream", str, enum=["stdout", "stderr"]),
            OpenApiParameter("q", str, description="Substring, case-insensitive"),
            *page_parameters(maximum=1000),
        ],
        responses=inline_serializer(
            "LogList", {"logs": LogSerializer(many=True), "cursor": serializers.CharField(allow_null=True)}
        ),
    )
    def get(self, request: AuthenticatedRequest, job_id) -> Response:
        job = selectors.job_get(user=request.user, job_id=job_id)
        page = keyset_page(
            selectors.job_logs(job=job, filters=request.query_params),
            request.query_params,
            ordering=("sequence",),
            default_limit=1000,
            max_limit=1000,
        )
        return Response({"logs": LogSerializer(page.items, many=True).data, "cursor": page.cursor})


class EventStreamRenderer(BaseRenderer):
    """Lets clients ask for `text/event-stream`; errors still go out as a JSON body."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return json.dumps(data).encode() if data is not None else b""


class PlainTextRenderer(EventStreamRenderer):
    media_type = "text/plain"
    format = "txt"


class NdjsonRenderer(EventStreamRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"


RAW_CHUNK = 2000


@extend_schema(tags=["jobs"])
class JobLogsRawView(APIView):
    renderer_classes = [JSONRenderer, PlainTextRenderer, NdjsonRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["txt", "jsonl"])],
        responses={(200, "text/plain"): str, (200, "application/x-ndjson"): str},
    )
    def get(self, request: AuthenticatedRequest, job_id) -> StreamingHttpResponse:
        job = selectors.job_get(user=request.user, job_id=job_id)
        fmt = request.query_params.get("format", "txt")
        if fmt not in ("txt", "jsonl"):
            raise ServiceError("format must be txt or jsonl.", fields={"format": ["Must be txt or jsonl."]})

        async def lines():
            # An async iterator: under ASGI the download streams chunk by chunk, never held whole.
            last = 0
            while True:
                rows = await sync_to_async(selectors.job_log_rows_after)(job_id=job.pk, sequence=last, limit=RAW_CHUNK)
                for row in rows:
                    line = LogLine(*row)
                    yield f"{line.message}\n" if fmt == "txt" else json.dumps(line.as_dict()) + "\n"
                if len(rows) < RAW_CHUNK:
                    return
                last = rows[-1][0]

        content_type = "text/plain; charset=utf-8" if fmt == "txt" else "application/x-ndjson"
        response = StreamingHttpResponse(lines(), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="job-{job.id}.{fmt}"'
        return response


# One event of the stream, as clients (and schemathesis) parse them: the comments are not events.
SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["log", "status", "end"]},
        "data": {"type": "string", "description": "JSON: a Log for `log`, a Job for `status` and `end`."},
    },
}


def _sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@extend_schema(tags=["jobs"])
class JobEventsView(APIView):
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema(
        operation_id="job_events",
        description="Server-Sent Events: `log` (a Log) for each stored line and then each new one, `status` "
        "(a Job) when the job changes, `end` (a Job) when it finishes; `: keep-alive` comments while quiet.",
        responses={(200, "text/event-stream"): OpenApiResponse(response=SSE_EVENT)},
    )
    def get(self, request: AuthenticatedRequest, job_id) -> StreamingHttpResponse:
        job = selectors.job_get(user=request.user, job_id=job_id)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        auth_token = (str(token.pk), token.expires_at) if token is not None else None

        async def events():
            # The stream ends the moment its token is revoked or expires, as a socket is closed.
            relay = get_relay()
            ended = relay.watch_token(auth_token)
            try:
                yield ": stream of job logs\n\n"
                async for event, data in until_set(ended, live.follow(job.pk)):
                    yield ": keep-alive\n\n" if event == "ping" else _sse(event, data)
            finally:
                relay.unwatch_token(auth_token, ended)

        response = StreamingHttpResponse(events(), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


@extend_schema(tags=["workflows"])
class WorkflowDetailView(workflow_api.WorkflowDetailView):
    """GET and PATCH as the workflows app serves them; DELETE also removes the workflow's jobs."""

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = workflow_selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        services.workflow_remove(workflow=workflow, context=RequestContext.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["workflows"])
class WorkflowTerminateView(APIView):
    @extend_schema(request=None, responses=WorkflowSerializer)
    def post(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = workflow_selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        workflow = services.workflow_stop(workflow=workflow, context=RequestContext.from_request(request))
        return Response(WorkflowSerializer(workflow).data)


@extend_schema(tags=["workflows"])
class WorkflowPingsView(APIView):
    @extend_schema(
        operation_id="workflow_pings_list",
        parameters=_PAGE,
        responses=inline_serializer(
            "PingList", {"pings": PingSerializer(many=True), "cursor": serializers.CharField(allow_null=True)}
        ),
    )
    def get(self, request: AuthenticatedRequest, workflow_id) -> Response:
        workflow = workflow_selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        page = keyset_page(
            selectors.ping_list(workflow=workflow), request.query_params, ordering=("-received_at", "-id")
        )
        return Response({"pings": PingSerializer(page.items, many=True).data, "cursor": page.cursor})

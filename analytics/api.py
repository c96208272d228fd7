"""REST endpoints of analytics: a user's figures and one workflow's."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.request_types import AuthenticatedRequest
from analytics import selectors
from jobs.models import JobStatus
from workflows import selectors as workflow_selectors
from workflows.models import WorkflowKind

# The serializers below only describe the answers in the schema: the selectors build them.


def _counts(name: str, keys: list[str], help_text: str) -> serializers.Serializer:
    fields = {key: serializers.IntegerField(min_value=0) for key in keys}
    return type(name, (serializers.Serializer,), fields)(help_text=help_text)


class TimeseriesPointSerializer(serializers.Serializer):
    bucket = serializers.DateTimeField(help_text="UTC start of the hour (24h) or day (7d, 30d).")
    completed = serializers.IntegerField(min_value=0, help_text="Jobs that completed in the bucket.")
    failed = serializers.IntegerField(min_value=0, help_text="Jobs that failed in the bucket.")


class JobFiguresSerializer(serializers.Serializer):
    total_jobs = serializers.IntegerField(min_value=0)
    jobs_by_status = _counts("JobsByStatus", JobStatus.values, "Every status, zeros included.")
    success_rate = serializers.FloatField(
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="COMPLETED / (COMPLETED + FAILED), from 0 to 1; null before any job completed or failed.",
    )
    total_job_execution_duration = serializers.FloatField(
        min_value=0, help_text="Seconds, summed over COMPLETED and FAILED jobs."
    )
    avg_job_duration_seconds = serializers.FloatField(
        min_value=0, help_text="Over COMPLETED and FAILED jobs; 0 if none."
    )
    p95_job_duration_seconds = serializers.FloatField(
        min_value=0,
        help_text="Nearest-rank 95th percentile over COMPLETED and FAILED jobs, from a histogram of 5% wide "
        "buckets: within 2.5% of the exact value (durations under 1 ms count as 0); 0 if none.",
    )
    total_logs = serializers.IntegerField(min_value=0, help_text="Log lines ever stored (pruning does not lower it).")
    timeseries = TimeseriesPointSerializer(
        many=True, help_text="Every bucket of the range, oldest first, the current (partial) one last; empty ones 0."
    )


class UserAnalyticsSerializer(JobFiguresSerializer):
    total_workflows = serializers.IntegerField(min_value=0)
    workflows_by_kind = _counts("WorkflowsByKind", WorkflowKind.values, "Every kind, zeros included.")
    active_workflows = serializers.IntegerField(min_value=0, help_text="Neither paused nor terminated.")
    paused_workflows = serializers.IntegerField(min_value=0, help_text="Paused and not terminated.")
    terminated_workflows = serializers.IntegerField(min_value=0)


class WorkflowAnalyticsSerializer(JobFiguresSerializer):
    workflow_id = serializers.UUIDField()
    consecutive_job_failures_count = serializers.IntegerField(min_value=0)


_RANGE = OpenApiParameter(
    "range",
    str,
    enum=list(selectors.RANGES),
    default=selectors.DEFAULT_RANGE,
    description="The time series' window: 24 hourly buckets (24h) or 7 or 30 daily ones, in UTC. "
    "The other figures cover all of the history.",
)


@extend_schema(tags=["analytics"])
class UserAnalyticsView(APIView):
    @extend_schema(
        operation_id="analytics_user",
        parameters=[_RANGE],
        responses=UserAnalyticsSerializer,
        description="The caller's workflows and every job they ever ran, those of deleted workflows included.",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        window = selectors.analytics_range(request.query_params.get("range"))
        return Response(selectors.user_analytics(user=request.user, window=window))


@extend_schema(tags=["analytics"])
class WorkflowAnalyticsView(APIView):
    @extend_schema(operation_id="analytics_workflow", parameters=[_RANGE], responses=WorkflowAnalyticsSerializer)
    def get(self, request: AuthenticatedRequest, workflow_id) -> Response:
        window = selectors.analytics_range(request.query_params.get("range"))
        workflow = workflow_selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        return Response(selectors.workflow_analytics(workflow=workflow, window=window))

"""Salesforce sync state (the Sync health page) and the actions on sync rows."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import page_parameters, paged
from api.permissions import CHANGE_SYNC, IsStaff, MayAct
from api.schema import ACTION_ERRORS, READ_ERRORS
from api.serializers.sync import (
    ActionResultSerializer,
    ApiUsageSerializer,
    AttemptsSerializer,
    ParkRequestSerializer,
    ReconcileRunsSerializer,
    SyncFailuresSerializer,
    SyncSummarySerializer,
)
from api.views.common import audit_action, int_parameter, text_parameter
from billing.selectors.params import read_integer
from crm import selectors
from crm.models import ContractSync
from crm.services import actions


class SyncSummary(APIView):
    @extend_schema(tags=["sync"], responses={200: SyncSummarySerializer, **READ_ERRORS})
    def get(self, request):
        """Sync rows by state, how many are due, and how long the oldest has waited."""
        return Response(SyncSummarySerializer(selectors.sync_summary()).data)


class SyncFailures(APIView):
    @extend_schema(tags=["sync"], parameters=[
        text_parameter("state", "failed, parked, retrying, or none for failed and parked.",
                       enum=[key for key in selectors.FAILURE_FILTERS if key]),
        *page_parameters(max_size=selectors.MAX_PAGE_SIZE),
    ], responses={200: SyncFailuresSerializer, **READ_ERRORS})
    def get(self, request):
        """Failed and parked rows, most recently changed first, with Salesforce's error, a
        hint about what to change, and links to the records."""
        state, page_request = selectors.read_failures_query(request.query_params)
        page = selectors.sync_failures(page=page_request, state_filter=state)
        return Response(SyncFailuresSerializer({"state": state, **paged(request, page)}).data)


class ApiUsage(APIView):
    @extend_schema(tags=["sync"], responses={200: ApiUsageSerializer, **READ_ERRORS})
    def get(self, request):
        """Salesforce's daily API usage as last reported, against the limit and our budget."""
        return Response(ApiUsageSerializer(selectors.api_usage()).data)


class ReconcileRuns(APIView):
    @extend_schema(tags=["sync"], parameters=[
        int_parameter("limit", "How many (default 30).", minimum=1, maximum=365)],
        responses={200: ReconcileRunsSerializer, **READ_ERRORS})
    def get(self, request):
        """The newest nightly reconciliations with Salesforce, newest first."""
        limit = read_integer(request.query_params, "limit", default=30, minimum=1, maximum=365)
        runs = selectors.reconcile_runs(limit=limit)
        return Response(ReconcileRunsSerializer({"results": runs}).data)


class Attempts(APIView):
    @extend_schema(tags=["sync"], parameters=[
        int_parameter("limit", "How many (default 50).", minimum=1, maximum=500)],
        responses={200: AttemptsSerializer, **READ_ERRORS})
    def get(self, request):
        """The newest Salesforce calls, newest first."""
        limit = read_integer(request.query_params, "limit", default=50, minimum=1, maximum=500)
        attempts = selectors.recent_attempts(limit=limit)
        return Response(AttemptsSerializer({"results": attempts}).data)


class _SyncAction(APIView):
    permission_classes = [IsStaff, MayAct]
    action_permission = CHANGE_SYNC

    def answer(self, request, result: actions.ActionResult) -> Response:
        audit_action(request, result.action, sync_ids=list(result.sync_ids[:50]),
                     changed=result.changed)
        return Response(ActionResultSerializer(result).data)


class RetryFailed(_SyncAction):
    @extend_schema(tags=["actions"], request=None,
                   responses={200: ActionResultSerializer, **ACTION_ERRORS})
    def post(self, request):
        """Make every failed row due now (parked rows stay parked)."""
        return self.answer(request, actions.retry_all_failed(user=request.user))


class Retry(_SyncAction):
    @extend_schema(tags=["actions"], request=None,
                   responses={200: ActionResultSerializer, **ACTION_ERRORS})
    def post(self, request, pk: int):
        """Retry one failed row now (a parked or synced row is left alone)."""
        sync = get_object_or_404(ContractSync, pk=pk)
        return self.answer(request, actions.retry_sync(sync=sync, user=request.user))


class Park(_SyncAction):
    @extend_schema(tags=["actions"], request=ParkRequestSerializer,
                   responses={200: ActionResultSerializer, **ACTION_ERRORS})
    def post(self, request, pk: int):
        """Stop pushing this row until it is unparked."""
        body = ParkRequestSerializer(data=request.data if isinstance(request.data, dict)
                                     else {"": request.data})
        body.is_valid(raise_exception=True)
        sync = get_object_or_404(ContractSync, pk=pk)
        result = actions.park(sync=sync, user=request.user,
                              reason=body.validated_data.get("reason", ""))
        return self.answer(request, result)


class Unpark(_SyncAction):
    @extend_schema(tags=["actions"], request=None,
                   responses={200: ActionResultSerializer, **ACTION_ERRORS})
    def post(self, request, pk: int):
        """Let a parked row be pushed again, at once."""
        sync = get_object_or_404(ContractSync, pk=pk)
        return self.answer(request, actions.unpark(sync=sync, user=request.user))

"""Customers, subscriptions and webhook events: cursor-paged lists, details, and the two
actions on them (push a subscription now, replay an event)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from api.filters import CustomerFilter, SubscriptionRangeFilter
from api.pagination import KeysetPagination
from api.permissions import CHANGE_SYNC, REPLAY_EVENTS, IsStaff, MayAct
from api.schema import ACTION_ERRORS, ITEM_ERRORS, READ_ERRORS
from api.serializers.records import (
    CustomerDetailSerializer,
    CustomerSerializer,
    EventCountsSerializer,
    EventDetailSerializer,
    EventRowSerializer,
    SubscriptionDetailSerializer,
    SubscriptionRowSerializer,
)
from api.serializers.sync import ActionResultSerializer, ReplayResultSerializer
from api.views.common import PROVIDER_PARAMETER, audit_action, date_parameter, text_parameter
from billing.models import Customer, Subscription, WebhookEvent
from billing.normalized import Status
from billing.selectors.events import EventFilters, event_counts_by_status, event_detail, event_rows
from billing.selectors.subscriptions import (
    DEFAULT_ORDERING,
    ORDERINGS,
    SubscriptionFilters,
    subscription_detail,
    subscription_row,
    subscription_rows,
)
from billing.services.replay import replay_event
from crm.services.actions import push_now

# A customer's subscriptions shown with it, newest change first (more: /subscriptions/?q=).
MAX_CUSTOMER_ROWS = 500


@extend_schema(tags=["customers"], responses={200: CustomerSerializer(many=True),
                                              **READ_ERRORS})
class CustomerList(ListAPIView):
    """Customers, newest first."""

    serializer_class = CustomerSerializer
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = CustomerFilter
    queryset = Customer.objects.filter(deleted_at__isnull=True).order_by("-id")


class CustomerDetail(APIView):
    @extend_schema(tags=["customers"], responses={200: CustomerDetailSerializer, **ITEM_ERRORS})
    def get(self, request, pk: int):
        """One customer with its subscriptions."""
        customer = get_object_or_404(Customer, pk=pk)
        rows = subscription_rows(filters=SubscriptionFilters()).filter(customer_id=customer.pk)
        subscriptions = [subscription_row(values) for values in rows[:MAX_CUSTOMER_ROWS]]
        return Response({**CustomerSerializer(customer).data,
                         "subscriptions": SubscriptionRowSerializer(subscriptions,
                                                                    many=True).data})


SUBSCRIPTION_PARAMETERS = [
    text_parameter("q", "Search: every word must match the customer's name, email, company or "
                        "id, or the subscription's id (`chargebee:sub_1` matches exactly).",
                   max_length=200),
    PROVIDER_PARAMETER,
    text_parameter("status", "Subscription status.", enum=[s.value for s in Status]),
    text_parameter("plan", "Plan id, exactly."),
    text_parameter("currency", "ISO currency code.", max_length=3),
    text_parameter("ordering", f"Order of the list (default {DEFAULT_ORDERING}).",
                   enum=list(ORDERINGS)),
]


@extend_schema(tags=["subscriptions"], parameters=SUBSCRIPTION_PARAMETERS,
               responses={200: SubscriptionRowSerializer(many=True), **READ_ERRORS})
class SubscriptionList(ListAPIView):
    """Subscriptions: the dashboard's search and filters, plus renewal and MRR ranges."""

    serializer_class = SubscriptionRowSerializer
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = SubscriptionRangeFilter
    queryset = Subscription.objects.none()  # for the filter backend's model check

    def list(self, request, *args, **kwargs):
        filters = SubscriptionFilters.from_query(request.query_params)
        rows = self.filter_queryset(subscription_rows(filters=filters))
        page = self.paginate_queryset(rows)
        data = self.get_serializer([subscription_row(values) for values in page], many=True).data
        return self.get_paginated_response(data)


class SubscriptionDetail(APIView):
    @extend_schema(tags=["subscriptions"],
                   responses={200: SubscriptionDetailSerializer, **ITEM_ERRORS})
    def get(self, request, pk: int):
        """One subscription with its customer, items, Salesforce sync state and timeline
        (ledger changes, webhook events and Salesforce calls, newest first)."""
        detail = subscription_detail(pk=pk)
        if detail is None:
            raise NotFound("No such subscription.")
        return Response(SubscriptionDetailSerializer(detail).data)


class PushSubscription(APIView):
    permission_classes = [IsStaff, MayAct]
    action_permission = CHANGE_SYNC

    @extend_schema(tags=["actions"], request=None,
                   responses={200: ActionResultSerializer, **ACTION_ERRORS})
    def post(self, request, pk: int):
        """Push this subscription to Salesforce now (the dashboard's "Push now")."""
        subscription = get_object_or_404(Subscription, pk=pk)
        result = push_now(subscription=subscription, user=request.user)
        audit_action(request, "push_now", subscription=subscription.pk, changed=result.changed)
        return Response(ActionResultSerializer(result).data)


EVENT_PARAMETERS = [
    PROVIDER_PARAMETER,
    text_parameter("status", "Processing status.", enum=list(WebhookEvent.State.values)),
    text_parameter("type", "Event type, exactly (e.g. subscription_changed).", max_length=128),
    date_parameter("from", "Received on or after this day (UTC)."),
    date_parameter("to", "Received on or before this day (UTC)."),
]


@extend_schema(tags=["events"], parameters=EVENT_PARAMETERS,
               responses={200: EventRowSerializer(many=True), **READ_ERRORS})
class EventList(ListAPIView):
    """Stored webhook deliveries, newest first (bodies only in the detail)."""

    serializer_class = EventRowSerializer
    pagination_class = KeysetPagination

    def list(self, request, *args, **kwargs):
        filters = EventFilters.from_query(request.query_params)
        page = self.paginate_queryset(event_rows(filters=filters))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class EventCounts(APIView):
    @extend_schema(tags=["events"], parameters=EVENT_PARAMETERS,
                   responses={200: EventCountsSerializer, **READ_ERRORS})
    def get(self, request):
        """Events per status under every filter but `status` (the dashboard's tabs)."""
        filters = EventFilters.from_query(request.query_params)
        return Response({"counts": event_counts_by_status(filters=filters)})


class EventDetail(APIView):
    @extend_schema(tags=["events"], responses={200: EventDetailSerializer, **ITEM_ERRORS})
    def get(self, request, pk: int):
        """One stored event with its body as stored and made readable."""
        detail = event_detail(pk=pk)
        if detail is None:
            raise NotFound("No such webhook event.")
        return Response(EventDetailSerializer(detail).data)


# A processing event goes to replay_event, which takes it over once its worker's lease ran out
# and leaves it alone (saying so) while the lease holds, as the dashboard's button does.
WAITING = (WebhookEvent.State.RECEIVED,)


class ReplayEvent(APIView):
    permission_classes = [IsStaff, MayAct]
    action_permission = REPLAY_EVENTS

    @extend_schema(tags=["actions"], request=None,
                   responses={200: ReplayResultSerializer, **ACTION_ERRORS})
    def post(self, request, pk: int):
        """Process a stored event again (the dashboard's "Replay"). An event already waiting
        to be processed is left alone."""
        event = get_object_or_404(WebhookEvent, pk=pk)
        answer = {"action": "replay", "event": event.pk, "event_id": event.event_id,
                  "previous_status": event.status}
        if event.status in WAITING:
            answer.update(status=event.status, changed=0,
                          message=f"Already waiting to be processed ({event.status}): "
                                  "nothing to replay.")
        else:
            outcome = replay_event(event=event)
            answer.update(status=outcome.status, changed=0 if outcome.error else 1,
                          message=(f"Not replayed: {outcome.error}." if outcome.error else
                                   "Handed to the worker again."))
        audit_action(request, "replay_event", event=event.pk, event_id=event.event_id,
                     previous_status=answer["previous_status"], status=answer["status"])
        return Response(ReplayResultSerializer(answer).data)


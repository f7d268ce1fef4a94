"""The debounced drain (billing.services.drain): one task per quiet period, batches until empty.

No worker runs here: Celery sends are captured by replacing `send_task` on the app, and the
drain (or the task function) is called directly. A tiny in-test adapter stands in for the
provider, as in test_event_service.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from billing.models import Subscription, WebhookEvent
from billing.services import drain, drain_requests, intake, processing
from billing.tasks import drain_webhook_events
from tests.support.json_adapter import json_adapter_registered

pytestmark = pytest.mark.django_db

State = WebhookEvent.State


@pytest.fixture(autouse=True)
def adapter():
    with json_adapter_registered():
        yield


@pytest.fixture(autouse=True)
def no_linger(settings):
    settings.SUBSYNC_DRAIN_LINGER_SECONDS = 0


@pytest.fixture
def tasks(monkeypatch) -> list[tuple[str, list | None, dict | None, dict]]:
    """Every Celery send as (name, args, kwargs, other options); nothing reaches a broker."""
    assert drain.app is processing.app
    calls = []

    def record(name, args=None, kwargs=None, **options):
        calls.append((name, args, kwargs, options))

    monkeypatch.setattr(drain.app, "send_task", record)
    return calls


class CacheWith:
    """The drain's cache with some methods replaced (set on a stand-in, never on the shared
    cache object, so nothing outlives the test)."""

    def __init__(self, real, **methods):
        self._real = real
        self.__dict__.update(methods)

    def __getattr__(self, name):
        return getattr(self._real, name)


def drains(calls):
    return [(args, kwargs) for name, args, kwargs, _ in calls if name == drain.DRAIN_TASK]


def store(event_id, *, sub="sub_1", mrr=5000, version=1, event_type="subscription_created",
          body=None):
    body = body if body is not None else json.dumps({"sub": sub, "mrr": mrr, "version": version})
    return intake.store_event(provider="chargebee", event_id=event_id, event_type=event_type,
                              body=body).event


def status_of(event):
    event.refresh_from_db()
    return event.status


# --- request_drain: one task per quiet period ------------------------------------------------

def test_request_drain_sends_once_while_the_flag_is_set(tasks):
    assert drain.request_drain() is True
    assert drain.request_drain() is False
    assert drains(tasks) == [(None, None)]
    assert drain.cache.get(drain.FLAG) is not None


def test_request_drain_with_force_sends_even_when_the_flag_is_set(tasks):
    drain.request_drain()
    assert drain.request_drain(force=True) is True
    assert drains(tasks) == [(None, None), (None, None)]


def test_request_drain_sends_again_once_the_flag_is_cleared(tasks):
    drain.request_drain()
    drain.cache.delete(drain.FLAG)
    assert drain.request_drain() is True
    assert len(drains(tasks)) == 2


def test_request_drain_never_raises_when_the_broker_is_down(monkeypatch, caplog):
    def broker_down(name, args=None, kwargs=None, **options):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(drain.app, "send_task", broker_down)
    assert drain.request_drain() is False
    assert drain.request_drain(force=True) is False
    assert "could not request a drain" in caplog.text


def test_request_drain_never_raises_when_the_cache_is_down(monkeypatch, tasks):
    def cache_down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(drain_requests, "cache", CacheWith(drain_requests.cache, add=cache_down))
    assert drain.request_drain() is False
    assert tasks == []


def test_announcing_a_stored_event_requests_one_drain(tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        store("ev_a", sub="a")
        store("ev_b", sub="b")
    assert drains(tasks) == [(None, None)]


# --- drain: batches until nothing is left ------------------------------------------------------

def test_drain_processes_every_event_in_batches_and_clears_the_flag(tasks):
    stored = [store(f"ev_{n}", sub=f"s{n}", mrr=1000 + n) for n in range(5)]
    stored += [store(f"ev_u{n}", event_type="unrelated", body="{}") for n in range(2)]
    drain.request_drain()  # the flag the webhook request set

    assert drain.drain(batch_size=3) == 7

    assert [status_of(e) for e in stored] == [State.PROCESSED] * 5 + [State.IGNORED] * 2
    assert all(e.attempts == 1 for e in stored)
    assert Subscription.objects.count() == 5
    assert drain.cache.get(drain.FLAG) is None
    assert not WebhookEvent.objects.filter(status=State.RECEIVED).exists()


def test_drain_with_nothing_to_do_clears_the_flag_and_returns_zero(tasks):
    drain.request_drain()
    assert drain.drain(batch_size=3) == 0
    assert drain.cache.get(drain.FLAG) is None
    assert drain.request_drain() is True  # the next event starts a new drain


def test_event_committed_between_last_claim_and_flag_clear_is_taken_by_the_same_drain(
    tasks, monkeypatch, django_capture_on_commit_callbacks
):
    """The window the flag protocol has to close: the drain has found nothing, then an event
    is committed and announced while the flag is still set (so no new drain is sent), then the
    drain clears the flag. Its look after the clear must find that event."""
    first = store("ev_first", sub="first")
    drain.request_drain()
    tasks.clear()
    real_delete = drain.cache.delete
    late = []
    announced_while_set = []

    def delete_after_a_late_event(key, *args, **kwargs):
        if key == drain.FLAG and not late:
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                late.append(store("ev_late", sub="late"))
            assert len(callbacks) == 1  # it was announced...
            announced_while_set.append(list(tasks))  # ...and the flag suppressed a send
        return real_delete(key, *args, **kwargs)

    monkeypatch.setattr(drain, "cache", CacheWith(drain.cache, delete=delete_after_a_late_event))

    assert drain.drain(batch_size=3) == 2

    assert late, "the drain never cleared its flag"
    assert announced_while_set == [[]]
    assert status_of(first) == State.PROCESSED
    assert status_of(late[0]) == State.PROCESSED
    assert drains(tasks) == []
    assert drain.cache.get(drain.FLAG) is None


def late_event_after_the_flag_is_cleared(tasks, monkeypatch, capture, *,
                                         new_drain_requested: bool):
    """A drain requested (its task not counted), and an event stored while it sleeps between
    clearing its flag and its last look; with `new_drain_requested`, a request sets the flag
    and sends a drain meanwhile, as a webhook arriving then would."""
    drain.request_drain()
    tasks.clear()
    late = []

    def sleep(seconds):
        if seconds == 2 * drain.QUIET_SECONDS and not late:
            assert drain.cache.get(drain.FLAG) is None
            with capture(execute=new_drain_requested):
                late.append(store("ev_late", sub="late"))
        time.sleep(seconds)

    monkeypatch.setattr(drain, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    return late


def test_a_drain_that_finds_work_after_clearing_its_flag_takes_the_flag_back(
    tasks, monkeypatch, django_capture_on_commit_callbacks
):
    """No request came in between: this drain goes on as the requested one, so an event
    announced while it works sends no second drain."""
    late = late_event_after_the_flag_is_cleared(tasks, monkeypatch,
                                                django_capture_on_commit_callbacks,
                                                new_drain_requested=False)
    flag_while_applying = []
    real_process = processing.process_claimed

    def process(batch):
        flag_while_applying.append(drain.cache.get(drain.FLAG))
        return real_process(batch)

    monkeypatch.setattr(drain, "process_claimed", process)

    assert drain.drain(batch_size=3) == 1

    assert status_of(late[0]) == State.PROCESSED
    # taken back, with this drain's own mark
    assert flag_while_applying and flag_while_applying[0] not in (None, drain.REQUESTED)
    assert drain.cache.get(drain.FLAG) is None  # cleared again once out of work
    assert drains(tasks) == []


def test_a_drain_that_finds_work_after_a_new_drain_was_sent_stops_after_that_batch(
    tasks, monkeypatch, django_capture_on_commit_callbacks
):
    """A request set the flag and sent a new drain while this one looked for the last time:
    this one applies what it claimed and stops, leaving the flag to the new drain, so that two
    drains never linger side by side on a trickle of events (both worker processes taken)."""
    late = late_event_after_the_flag_is_cleared(tasks, monkeypatch,
                                                django_capture_on_commit_callbacks,
                                                new_drain_requested=True)
    more = []
    real_claim = processing.claim_events

    def claim(**kwargs):
        claimed = real_claim(**kwargs)
        if late and not more:
            more.append(store("ev_after", sub="after"))  # waiting for the new drain
        return claimed

    monkeypatch.setattr(drain, "claim_events", claim)

    assert drain.drain(batch_size=3) == 1

    assert status_of(late[0]) == State.PROCESSED
    assert status_of(more[0]) == State.RECEIVED  # left to the drain that was sent
    assert len(drains(tasks)) == 1
    assert drain.cache.get(drain.FLAG) is not None  # the new drain's


def test_a_forced_drain_beside_a_running_one_stops_when_it_runs_out_of_work(tasks):
    """The stuck-event requeue forces a drain even while one runs. Once the running drain has
    taken the flag back (its own mark on it), the forced one stops at its first empty claim
    and leaves the flag alone, instead of both lingering on a trickle of events."""
    event = store("ev_1")
    drain.cache.set(drain.FLAG, "mark-of-the-running-drain", timeout=drain.FLAG_SECONDS)

    assert drain.drain(batch_size=3) == 1  # what it had already claimed is applied

    assert status_of(event) == State.PROCESSED
    assert drain.cache.get(drain.FLAG) == "mark-of-the-running-drain"
    assert drains(tasks) == []


def test_a_process_that_found_the_flag_set_stays_quiet_for_a_moment(tasks, monkeypatch):
    asked = []
    real_add = drain.cache.add

    def counting_add(*args, **kwargs):
        asked.append(args[0])
        return real_add(*args, **kwargs)

    monkeypatch.setattr(drain_requests, "cache",
                        CacheWith(drain_requests.cache, add=counting_add))
    clock = [1000.0]
    monkeypatch.setattr(drain_requests, "time", SimpleNamespace(monotonic=lambda: clock[0],
                                                                sleep=time.sleep))
    assert drain.request_drain() is True  # sends; the flag is now set
    assert drain.request_drain() is False  # finds the flag set
    assert drain.request_drain() is False  # within the quiet period: does not even ask
    assert len(asked) == 2
    clock[0] += drain.QUIET_SECONDS
    drain.cache.delete(drain.FLAG)
    assert drain.request_drain() is True  # asks again after it, and the flag is gone
    assert len(asked) == 3 and len(drains(tasks)) == 2


def test_event_announced_quietly_after_the_flag_was_cleared_is_taken_by_the_same_drain(
    tasks, monkeypatch, django_capture_on_commit_callbacks
):
    """A request that found the flag set a moment ago does not ask again; if the drain clears
    the flag meanwhile, that request's event must still be found: the drain waits out the
    quiet period between clearing the flag and its last look."""
    first = store("ev_first", sub="first")
    drain.request_drain()
    assert drain.request_drain() is False  # this process now stays quiet for a moment
    tasks.clear()
    late = []

    def sleep(seconds):
        if seconds == 2 * drain.QUIET_SECONDS and not late:
            assert drain.cache.get(drain.FLAG) is None  # the flag is already cleared
            with django_capture_on_commit_callbacks(execute=True):
                late.append(store("ev_quiet", sub="quiet"))
        time.sleep(seconds)

    monkeypatch.setattr(drain, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))

    assert drain.drain(batch_size=3) == 2

    assert late, "the drain never waited out the quiet period"
    assert drains(tasks) == []  # the quiet request sent nothing...
    assert status_of(first) == status_of(late[0]) == State.PROCESSED  # ...and lost nothing


def test_a_full_batch_asks_for_exactly_one_helper(tasks):
    stored = [store(f"ev_{n}", sub=f"s{n}") for n in range(5)]
    drain.request_drain()
    tasks.clear()

    assert drain.drain(batch_size=2) == 5

    assert drains(tasks) == [(None, {"helper": True})]
    assert drain.cache.get(drain.HELPER_FLAG) is not None
    assert [status_of(e) for e in stored] == [State.PROCESSED] * 5


def with_a_helper_requested(tasks, *, events: int) -> list[WebhookEvent]:
    """`events` stored, a main drain requested and a helper asked for; no sends recorded."""
    stored = [store(f"ev_{n}", sub=f"s{n}") for n in range(events)]
    drain.request_drain()
    drain.cache.add(drain.HELPER_FLAG, "1", timeout=drain.FLAG_SECONDS)
    tasks.clear()
    return stored


def test_helper_drain_clears_its_own_flag_when_out_of_work(tasks):
    stored = with_a_helper_requested(tasks, events=3)

    assert drain_webhook_events(helper=True) == 3

    assert drain.cache.get(drain.HELPER_FLAG) is None
    # The flag of the main drain is not the helper's to clear, and a helper asks for no help.
    assert drain.cache.get(drain.FLAG) is not None
    assert tasks == []
    assert [status_of(e) for e in stored] == [State.PROCESSED] * 3


def assert_one_delayed_retry(tasks, event) -> None:
    """Exactly one retry was scheduled: the event's own task, after a delay."""
    retries = [(args, options) for name, args, _, options in tasks
               if name == processing.PROCESS_TASK]
    assert [args for args, _ in retries] == [[event.pk]]
    assert retries[0][1]["countdown"] > 0


@pytest.mark.parametrize("fails_in", ["parse", "apply"])
def test_poison_event_fails_alone_and_is_retried(tasks, monkeypatch, fails_in):
    """Parsing happens event by event; the batch is applied in one transaction, and when that
    fails each event is applied on its own, so that the one that cannot be applied does not
    hold the others back."""
    if fails_in == "parse":
        poison_body, message = '{"boom": "upstream hiccup"}', "upstream hiccup"
    else:
        poison_body, message = None, "cannot apply this one"
        real_apply = processing.apply_parsed_events

        def refuse_poison(ready):
            if any(event.event_id == "ev_poison" for event, _ in ready):
                raise RuntimeError(message)
            return real_apply(ready)

        monkeypatch.setattr(processing, "apply_parsed_events", refuse_poison)
    good_a = store("ev_a", sub="a")
    poison = store("ev_poison", sub="p", body=poison_body)
    good_b = store("ev_b", sub="b")

    assert drain.drain(batch_size=5) == 3

    assert status_of(good_a) == status_of(good_b) == State.PROCESSED
    assert status_of(poison) == State.FAILED
    assert message in poison.error and "Traceback" in poison.traceback
    assert sorted(Subscription.objects.values_list("external_id", flat=True)) == ["a", "b"]
    assert_one_delayed_retry(tasks, poison)


def test_permanent_failure_schedules_no_retry(tasks):
    good = store("ev_good", sub="good")
    bad = store("ev_bad", body='{"boom": "nonsense", "permanent": true}')

    assert drain.drain(batch_size=5) == 2

    assert status_of(good) == State.PROCESSED
    assert status_of(bad) == State.FAILED and "nonsense" in bad.error
    assert [t for t in tasks if t[0] == processing.PROCESS_TASK] == []


def test_drain_out_of_time_stops_after_one_batch_and_forces_a_new_drain(tasks):
    stored = [store(f"ev_{n}", sub=f"s{n}") for n in range(5)]
    drain.request_drain()
    tasks.clear()

    assert drain.drain(batch_size=2, max_seconds=0) == 2

    statuses = [status_of(e) for e in stored]
    assert statuses.count(State.PROCESSED) == 2
    assert statuses.count(State.RECEIVED) == 3
    # The flag is still set (this drain did not finish), yet a new drain is sent.
    assert drain.cache.get(drain.FLAG) is not None
    assert drains(tasks) == [(None, {"helper": True}), (None, None)]


def test_helper_out_of_time_clears_its_flag_and_requests_nothing(tasks):
    stored = [store(f"ev_{n}", sub=f"s{n}") for n in range(3)]
    drain.cache.add(drain.HELPER_FLAG, "1", timeout=drain.FLAG_SECONDS)

    assert drain.drain(helper=True, batch_size=2, max_seconds=0) == 2

    assert [status_of(e) for e in stored].count(State.RECEIVED) == 1
    assert drain.cache.get(drain.HELPER_FLAG) is None
    assert tasks == []


def test_a_helper_task_works_only_its_short_slice_and_the_main_drain_asks_again(
        tasks, settings):
    settings.SUBSYNC_EVENT_BATCH_SIZE = 2
    settings.SUBSYNC_HELPER_DRAIN_SECONDS = 0  # a slice shorter than one batch
    stored = with_a_helper_requested(tasks, events=7)

    # The helper frees its worker process after one batch although the backlog remains.
    assert drain_webhook_events(helper=True) == 2
    assert drain.cache.get(drain.HELPER_FLAG) is None
    assert [status_of(e) for e in stored].count(State.RECEIVED) == 5
    # The main drain keeps its own, long slice, and asks for a new helper at its first
    # full batch: that task queues behind whatever took the freed process.
    assert drain_webhook_events() == 5
    assert drains(tasks) == [(None, {"helper": True})]
    assert [status_of(e) for e in stored] == [State.PROCESSED] * 7


def test_drain_task_returns_how_many_events_it_processed(tasks):
    stored = [store(f"ev_{n}", sub=f"s{n}") for n in range(4)]
    drain.request_drain()

    assert drain_webhook_events() == 4
    assert drain_webhook_events() == 0

    assert [status_of(e) for e in stored] == [State.PROCESSED] * 4
    assert drain.cache.get(drain.FLAG) is None


def test_a_drain_that_dies_clears_its_flag_so_the_next_event_starts_another(tasks, monkeypatch):
    drain.request_drain()
    assert drain.cache.get(drain.FLAG) is not None

    def database_gone(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(drain, "drain", database_gone)
    with pytest.raises(RuntimeError):
        drain_webhook_events()

    assert drain.cache.get(drain.FLAG) is None
    tasks.clear()
    assert drain.request_drain() and len(drains(tasks)) == 1

"""Django settings for subsync, read from the environment (12-factor).

Every variable is optional for `make run`: unset, the app runs on SQLite under var/, an embedded
Celery transport (kombu's filesystem transport, no server), and the Salesforce emulator. The
variables and their defaults are listed in README.md (Configuration).
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

VAR_DIR = Path(env.str("SUBSYNC_VAR_DIR", default=str(BASE_DIR / "var")))

# A recognisable placeholder: refused below unless DEBUG is on.
DEFAULT_SECRET_KEY = "insecure-subsync-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set SECRET_KEY to a long random value, or DEBUG=true for a "
        "local development run."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# System checks not to report, e.g. billing.W002 (Braintree webhooks refused) for a deployment
# that uses only Chargebee.
# By default only security.W021 (HSTS preload): asking browsers to preload HTTPS for the whole
# domain is the domain owner's decision (SECURE_HSTS_PRELOAD=true), not this app's.
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=["security.W021"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "billing",
    "crm",
    "dashboard",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files (no CDN)
    "api",
    "axes",  # login lockouts (Accounts and sessions below)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Sessions end after SUBSYNC_SESSION_IDLE_SECONDS without a request, and at the latest
    # SESSION_COOKIE_AGE after the login.
    "subsync.sessions.SessionTimeoutMiddleware",
    # Everything needs a login unless a view is explicitly marked @login_not_required
    # (webhooks authenticate with the provider's credentials, /healthz is public).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Dates on the dashboard in the viewer's own time zone (a cookie the browser sets).
    "dashboard.middleware.ViewerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "subsync.urls"
WSGI_APPLICATION = "subsync.wsgi.application"
# The dashboard's own login page; the admin keeps its own at /admin/login/.
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:overview"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context.dashboard",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if "DATABASE_URL" not in env.ENVIRON:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'subsync.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share one file: WAL lets readers run beside the writer, and
    # IMMEDIATE transactions make writers queue on the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    # Off, as Django's default: a check is a SELECT 1 before each request's first query,
    # about a tenth of a webhook's cost. The webhook INSERT reconnects once by itself when the
    # connection broke since the last request (billing.services.intake); elsewhere a broken
    # connection fails one request or task and is dropped after it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS",
                                                          default=False)
    if env.bool("DATABASE_SERVER_SIDE_BINDING", default=False):
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
    # psycopg prepares a statement once it has run 5 times on a connection; Django turns that
    # off unless OPTIONS says otherwise. Only statements bound server-side are prepared: the
    # webhook INSERT (billing.services.intake), not Django's own queries. A pooler in
    # transaction mode that cannot keep prepared statements (PgBouncer before 1.21, or with
    # max_prepared_statements = 0) needs DATABASE_PREPARED_STATEMENTS=false.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        5 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Our CSS, JS and the vendored libraries (htmx, Chart.js): static/vendor/README.md says which.
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve app static files straight from the apps when `collectstatic` has not been run (make run).
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security -------------------------------------------------------------------------------
# TLS usually ends at the proxy: redirecting is opt-in, the rest follows DEBUG.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Webhook POSTs over plain HTTP are refused (403) rather than redirected: a provider does not
# follow a redirect of its POST (billing.webhooks.transport).
SECURE_REDIRECT_EXEMPT = [r"^webhooks/"]
# Trust X-Forwarded-Proto (is this request HTTPS?) and X-Forwarded-For (the client address, for
# login lockouts) only when a proxy in front of us sets them; a client that reaches the app
# directly could claim anything.
SUBSYNC_BEHIND_PROXY = env.bool("SUBSYNC_BEHIND_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SUBSYNC_BEHIND_PROXY else None
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only our own static files: no inline scripts or styles, no CDN (templates/dashboard/ keeps
# chart data in <script type="application/json">, which is not executed).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}

# --- Accounts and sessions ------------------------------------------------------------------
# A session lasts at most this long after the login, and ends after this long without a request.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
SUBSYNC_SESSION_IDLE_SECONDS = env.int("SUBSYNC_SESSION_IDLE_SECONDS", default=2 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)
# django-axes: after AXES_FAILURE_LIMIT failed logins for one username, or from one address, that
# username or address is locked out (the dashboard login and the admin alike) for
# AXES_COOLOFF_HOURS, or until an admin deletes the lockout under Axes > Access attempts.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "dashboard/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "subsync.sessions.client_ip"
# Failed attempts are what axes needs; successful logins are not kept.
AXES_DISABLE_ACCESS_LOG = True

# Webhook bodies are capped at 1 MiB by the views; Django's own cap must not be lower.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- REST API (api/; docs/api.md) ------------------------------------------------------------
REST_FRAMEWORK = {
    # Nothing anonymous: a token (scripts) or the dashboard's session (the browser), then staff.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsStaff"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    # Per user, counted in the default cache (shared by every web process).
    "DEFAULT_THROTTLE_RATES": {"user": env.str("SUBSYNC_API_THROTTLE_RATE", default="1200/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "subsync API",
    "DESCRIPTION": "Subscriptions, renewals, metrics, Salesforce sync state and actions. "
                   "The same figures as the dashboard (docs/api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["api.permissions.IsStaff"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Logging: one JSON object per line on stdout ---------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "subsync.logging.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    # Embedded default: messages are files under var/, so web, worker and beat on one machine
    # share a queue without any server.
    _queue_dir = VAR_DIR / "celery" / "queue"
    _control_dir = VAR_DIR / "celery" / "control"
    _results_dir = VAR_DIR / "celery" / "results"
    for _folder in (_queue_dir, _control_dir, _results_dir):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = env.str(
        "CELERY_RESULT_BACKEND", default=f"file://{_results_dir}"
    )
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport, whose channel does not end the worker when Redis goes away
    # while tasks are unacknowledged (subsync.broker). It takes precedence over the scheme.
    CELERY_BROKER_TRANSPORT = "subsync.broker:Transport"
# --- Cache: small flags shared by web and worker processes (the debounced drain request) ------
# Redis when the broker is Redis (or CACHE_URL names one), files under var/ otherwise.
CACHE_URL = env.str("CACHE_URL", default="")
if not CACHE_URL and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CACHE_URL = CELERY_BROKER_URL
# CACHE_KEY_PREFIX keeps two deployments (or a test run) on one Redis database apart.
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="subsync")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": CACHE_URL, "KEY_PREFIX": CACHE_KEY_PREFIX}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache"), "KEY_PREFIX": CACHE_KEY_PREFIX}}

CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Retry for ever (Celery's default gives up after 100 attempts and the worker exits): a long
# broker outage must not need a human to restart the worker.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connection before and after every task unless this
# is set, so each task paid for a new PostgreSQL connection. With it, a worker keeps its
# connection (recycled after this many tasks) and subsync.celery checks it between tasks the
# way Django does between requests (CONN_MAX_AGE, health checks).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Every periodic task, in one place (times of day are UTC).
CELERY_BEAT_SCHEDULE = {
    # Webhook events whose drain or task was lost (SUBSYNC_STUCK_EVENT_SECONDS).
    "requeue-stuck-webhook-events": {
        "task": "billing.tasks.requeue_stuck_events",
        "schedule": 60.0,
    },
    # Chargebee events the webhooks missed.
    "poll-chargebee-events": {
        "task": "billing.tasks.poll_chargebee_events",
        "schedule": 300.0,
    },
    # Braintree subscription changes whose notifications were lost (no-op without API keys).
    "reconcile-braintree-subscriptions": {
        "task": "billing.tasks.reconcile_braintree_subscriptions",
        "schedule": 1800.0,
    },
    # Done events past SUBSYNC_EVENT_RETENTION_DAYS, seen failed/rejected ones past
    # SUBSYNC_FAILED_EVENT_RETENTION_DAYS, Braintree look-ups past their retention.
    "prune-webhook-events": {
        "task": "billing.tasks.prune_webhook_events",
        "schedule": crontab(hour=2, minute=43),
    },
    # Due ContractSync rows whose flush request was lost, or whose backoff elapsed.
    "sweep-salesforce": {
        "task": "crm.tasks.sweep_salesforce",
        "schedule": 60.0,
    },
    # Salesforce call records past SUBSYNC_SYNC_ATTEMPT_RETENTION_DAYS.
    "prune-sync-attempts": {
        "task": "crm.tasks.prune_sync_attempts",
        "schedule": crontab(hour=2, minute=53),
    },
    # Nightly comparison of Salesforce with billing (crm.tasks.reconcile_salesforce).
    "reconcile-salesforce": {
        "task": "crm.tasks.reconcile_salesforce",
        "schedule": crontab(hour=3, minute=17),
    },
    # The Overview's figures into the cache, so that visitors do not wait for them; a run
    # still queued when the next is due is dropped.
    "refresh-overview-figures": {
        "task": "billing.tasks.refresh_overview_figures",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}

# --- Providers (read by billing.providers and crm.salesforce) --------------------------------
CHARGEBEE_SITE = env.str("CHARGEBEE_SITE", default="")
CHARGEBEE_API_KEY = env.str("CHARGEBEE_API_KEY", default="")
CHARGEBEE_WEBHOOK_USERNAME = env.str("CHARGEBEE_WEBHOOK_USERNAME", default="")
CHARGEBEE_WEBHOOK_PASSWORD = env.str("CHARGEBEE_WEBHOOK_PASSWORD", default="")
CHARGEBEE_API_URL = env.str("CHARGEBEE_API_URL", default="")
# Apply a Chargebee event only as fetched from Chargebee's API by its id (one API call per
# event; billing.providers.chargebee.verify), so a leaked webhook password cannot inject data.
CHARGEBEE_VERIFY_EVENTS = env.bool("CHARGEBEE_VERIFY_EVENTS", default=False)

BRAINTREE_ENVIRONMENT = env.str("BRAINTREE_ENVIRONMENT", default="sandbox")
BRAINTREE_MERCHANT_ID = env.str("BRAINTREE_MERCHANT_ID", default="")
BRAINTREE_PUBLIC_KEY = env.str("BRAINTREE_PUBLIC_KEY", default="")
BRAINTREE_PRIVATE_KEY = env.str("BRAINTREE_PRIVATE_KEY", default="")
BRAINTREE_GATEWAY_URL = env.str("BRAINTREE_GATEWAY_URL", default="")

SALESFORCE_LOGIN_URL = env.str("SALESFORCE_LOGIN_URL", default="https://login.salesforce.com")
SALESFORCE_AUTH_FLOW = env.str("SALESFORCE_AUTH_FLOW", default="client_credentials")
SALESFORCE_CLIENT_ID = env.str("SALESFORCE_CLIENT_ID", default="")
SALESFORCE_CLIENT_SECRET = env.str("SALESFORCE_CLIENT_SECRET", default="")
SALESFORCE_USERNAME = env.str("SALESFORCE_USERNAME", default="")
SALESFORCE_PASSWORD = env.str("SALESFORCE_PASSWORD", default="")
SALESFORCE_PRIVATE_KEY_FILE = env.str("SALESFORCE_PRIVATE_KEY_FILE", default="")
SALESFORCE_API_VERSION = env.str("SALESFORCE_API_VERSION", default="62.0")
SALESFORCE_CA_BUNDLE = env.str("SALESFORCE_CA_BUNDLE", default="")
# Instance hosts trusted besides Salesforce's domains and SALESFORCE_LOGIN_URL's own host (a
# proxy in front of Salesforce); crm.salesforce.endpoints.
SALESFORCE_INSTANCE_HOSTS = env.list("SALESFORCE_INSTANCE_HOSTS", default=[])
# Set by `make run` when it starts the built-in Salesforce emulator (shown on every page and in
# /healthz). Never in production: with DEBUG off it is refused.
SUBSYNC_SALESFORCE_EMULATOR = env.bool("SUBSYNC_SALESFORCE_EMULATOR", default=False)
if SUBSYNC_SALESFORCE_EMULATOR and not DEBUG:
    raise ImproperlyConfigured(
        "SUBSYNC_SALESFORCE_EMULATOR=true is for `make run` (DEBUG on): a production app "
        "must not sync into the built-in emulator. Set the SALESFORCE_* variables instead."
    )

SUBSYNC_SYNC_STATUSES = env.list(
    "SUBSYNC_SYNC_STATUSES", default=["active", "non_renewing", "past_due"]
)
SUBSYNC_REPORTING_CURRENCY = env.str("SUBSYNC_REPORTING_CURRENCY", default="USD")
# Webhook events still `received` this long after arrival are enqueued again by beat.
SUBSYNC_STUCK_EVENT_SECONDS = env.int("SUBSYNC_STUCK_EVENT_SECONDS", default=300)
SUBSYNC_EVENT_MAX_ATTEMPTS = env.int("SUBSYNC_EVENT_MAX_ATTEMPTS", default=8)
# Received events are applied in batches of this many, one transaction per batch; one drain
# task works through batches for at most this many seconds, then hands over to a new task.
SUBSYNC_EVENT_BATCH_SIZE = env.int("SUBSYNC_EVENT_BATCH_SIZE", default=200)
SUBSYNC_DRAIN_SECONDS = env.float("SUBSYNC_DRAIN_SECONDS", default=60.0)
# A helper drain (the second worker process, during a backlog) works this long, then frees its
# process, so that other tasks (the Salesforce flush) get a turn; the main drain asks for a
# new helper at its next full batch.
SUBSYNC_HELPER_DRAIN_SECONDS = env.float("SUBSYNC_HELPER_DRAIN_SECONDS", default=2.0)
# After a batch that was not full, wait this long for more events before the next one.
SUBSYNC_DRAIN_LINGER_SECONDS = env.float("SUBSYNC_DRAIN_LINGER_SECONDS", default=0.25)
# Done webhook events (processed, ignored, stale) are deleted this many days after they arrived,
# by a nightly beat task (billing.services.retention); 0 keeps them for ever. At least 7.
SUBSYNC_EVENT_RETENTION_DAYS = env.int("SUBSYNC_EVENT_RETENTION_DAYS", default=90)
if 0 < SUBSYNC_EVENT_RETENTION_DAYS < 7:
    raise ImproperlyConfigured(
        "SUBSYNC_EVENT_RETENTION_DAYS must be 0 (keep every event) or at least 7: within a "
        "week, stored events are what tells a provider's redelivery from a new event."
    )
# Failed and rejected events wait for an operator; once one has opened them (dashboard or
# admin), they are deleted this many days after they arrived (0: kept for ever).
SUBSYNC_FAILED_EVENT_RETENTION_DAYS = env.int("SUBSYNC_FAILED_EVENT_RETENTION_DAYS", default=180)
# Salesforce call records (SyncAttempt) and Braintree look-ups (customer details by payment
# method, plans, merchant accounts) are deleted after this many days (0: kept for ever).
SUBSYNC_SYNC_ATTEMPT_RETENTION_DAYS = env.int("SUBSYNC_SYNC_ATTEMPT_RETENTION_DAYS", default=90)
SUBSYNC_BRAINTREE_CACHE_RETENTION_DAYS = env.int("SUBSYNC_BRAINTREE_CACHE_RETENTION_DAYS",
                                                 default=30)
# The first Chargebee event poll looks back this far (Chargebee retries webhooks for ~3 days).
SUBSYNC_CHARGEBEE_POLL_LOOKBACK_HOURS = env.int("SUBSYNC_CHARGEBEE_POLL_LOOKBACK_HOURS", default=72)

# --- Salesforce push (crm.services.flush); see README "Salesforce push" ----------------------
SALESFORCE_TIMEOUT = env.float("SALESFORCE_TIMEOUT", default=30.0)
# Field names differ per org: "Contract.Subsync_MRR__c=MRR__c,Subsync_Plan__c=" renames a field
# (bare names apply to whichever object has them; an empty name stops sending the field).
SUBSYNC_SF_FIELD_MAP = env.dict("SUBSYNC_SF_FIELD_MAP", default={})
# Constants sent with every record, as JSON: {"Account": {"Type": "Customer - Direct"}}.
SUBSYNC_SF_EXTRA_FIELDS = env.json("SUBSYNC_SF_EXTRA_FIELDS", default={})
SUBSYNC_SF_BATCH_SIZE = env.int("SUBSYNC_SF_BATCH_SIZE", default=200)
# Past this share of the daily API limit, only rows that already have a Contract are pushed.
SUBSYNC_SF_API_BUDGET_PCT = env.float("SUBSYNC_SF_API_BUDGET_PCT", default=80.0)
# Transient failures after which a row shows as `failed` (it is still retried with backoff).
SUBSYNC_SF_MAX_ATTEMPTS = env.int("SUBSYNC_SF_MAX_ATTEMPTS", default=6)
SUBSYNC_SF_BACKOFF_BASE_SECONDS = env.float("SUBSYNC_SF_BACKOFF_BASE_SECONDS", default=60.0)
SUBSYNC_SF_BACKOFF_CAP_SECONDS = env.float("SUBSYNC_SF_BACKOFF_CAP_SECONDS", default=6 * 3600.0)
# How long a worker owns the rows it claimed; a killed worker's rows are free again after it.
SUBSYNC_SF_CLAIM_SECONDS = env.int("SUBSYNC_SF_CLAIM_SECONDS", default=300)
# One flush task stops claiming new batches after this long (the sweeper continues).
SUBSYNC_SF_FLUSH_SECONDS = env.float("SUBSYNC_SF_FLUSH_SECONDS", default=120.0)
# A burst of changes within this window causes one flush, this long after the first change.
SUBSYNC_SF_DEBOUNCE_SECONDS = env.float("SUBSYNC_SF_DEBOUNCE_SECONDS", default=1.0)
# While rows wait on the budget, usage older than this is refreshed with one `limits` call
# (counted against the limit), and a flush comes back for them this long after deferring.
SUBSYNC_SF_USAGE_REFRESH_SECONDS = env.int("SUBSYNC_SF_USAGE_REFRESH_SECONDS", default=30)
# How long the org's describe (is it multi-currency?) is trusted.
SUBSYNC_SF_DESCRIBE_TTL_SECONDS = env.int("SUBSYNC_SF_DESCRIBE_TTL_SECONDS", default=3600)
# More than this many due rows are pushed through Bulk API 2.0 jobs instead of collections.
SUBSYNC_SF_BULK_THRESHOLD = env.int("SUBSYNC_SF_BULK_THRESHOLD", default=2000)
# Rows per Bulk API batch (each batch is three jobs: Accounts, Contracts, activation).
SUBSYNC_SF_BULK_BATCH_SIZE = env.int("SUBSYNC_SF_BULK_BATCH_SIZE", default=10000)
# A bulk job not finished after this long is left to Salesforce; its rows are retried later.
SUBSYNC_SF_BULK_TIMEOUT_SECONDS = env.int("SUBSYNC_SF_BULK_TIMEOUT_SECONDS", default=600)
# Plans and add-ons as Product2 with standard price book entries (crm.services.products), and
# renewal Opportunities with line items and monthly revenue schedules
# (crm.services.renewal_opportunities); both off unless asked for.
SUBSYNC_SF_PRODUCTS = env.bool("SUBSYNC_SF_PRODUCTS", default=False)
SUBSYNC_SF_RENEWALS = env.bool("SUBSYNC_SF_RENEWALS", default=False)
# A renewal Opportunity exists from this many days before the renewal date.
SUBSYNC_SF_RENEWAL_LEAD_DAYS = env.int("SUBSYNC_SF_RENEWAL_LEAD_DAYS", default=120)
# Opportunity picklist values (they differ per org; salesforce_check checks they exist).
SUBSYNC_SF_RENEWAL_STAGE = env.str("SUBSYNC_SF_RENEWAL_STAGE", default="Prospecting")
SUBSYNC_SF_RENEWAL_WON_STAGE = env.str("SUBSYNC_SF_RENEWAL_WON_STAGE", default="Closed Won")
SUBSYNC_SF_RENEWAL_LOST_STAGE = env.str("SUBSYNC_SF_RENEWAL_LOST_STAGE", default="Closed Lost")
SUBSYNC_SF_RENEWAL_TYPE = env.str("SUBSYNC_SF_RENEWAL_TYPE", default="")

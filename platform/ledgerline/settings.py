"""Ledgerline settings. Every value comes from the environment; .env.example lists them all.

The defaults are the embedded ones: SQLite and files under var/, a broker that needs no
server, so that `make run` works on a bare machine.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from ledgerline.env import envbool, envint, envlist, envsecret, envstr, public_hosts
from ledgerline.private import private_dir, private_sqlite

# Lets ModelAdmin[...] and friends be subscripted at run time, as their type stubs are.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(envstr("LEDGERLINE_VAR_DIR", str(BASE_DIR / "var"))).resolve()
# It holds the database, the keys and the chain's state: this user's alone (see ledgerline.private).
private_dir(VAR_DIR)


def _local_secret_key() -> str:
    # Only for the embedded default: a key made once and kept under var/, so sessions
    # survive restarts. Deployments set SECRET_KEY (or SECRET_KEY_FILE).
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = envbool("DEBUG", False)
SECRET_KEY = envsecret("SECRET_KEY") or _local_secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000")
SITE_URL_SET = bool(envstr("SITE_URL"))  # else links a page hands out name the host it was asked from

# Behind TLS, cookies go over HTTPS only: on by default when the site's public address is https.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", SITE_URL.startswith("https://"))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
# The header our TLS-terminating proxy sets to "https" (e.g. X-Forwarded-Proto). Only when one is
# named: without a proxy that overwrites it, a client could send it and pass for HTTPS.
if envstr("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + envstr("SECURE_PROXY_SSL_HEADER").upper().replace("-", "_"), "https")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ledgerline.accounts",
    "ledgerline.provenance",
    "ledgerline.datasets",
    "ledgerline.training",
    "ledgerline.works",
    "ledgerline.ledger",
    "ledgerline.royalties",
    "ledgerline.storage",
    "ledgerline.leases",
    "ledgerline.audit",
    "ledgerline.pipeline",
    "ledgerline.portal",
    "axes",
]

MIDDLEWARE = [
    # First: a recursion limit the stack can hold while anything below runs (see ledgerline.stack).
    "ledgerline.stack.RecursionLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Above WhiteNoise, so that static files carry the policy too: every response does.
    "ledgerline.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ledgerline.urls"
WSGI_APPLICATION = "ledgerline.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    # An empty DATABASE_URL (as .env.example has it) means the default, like an unset one.
    "default": dj_database_url.parse(
        envstr("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'ledgerline.sqlite3'}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if str(DATABASES["default"]["NAME"]) not in ("", ":memory:"):
        private_sqlite(Path(DATABASES["default"]["NAME"]))
    # WAL lets the site read while the worker writes; IMMEDIATE takes the write lock at
    # the start of a transaction so two writers queue instead of failing mid-way.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, for the test database too: the pipeline's tests run worker processes on it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in lockout (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one account, or from
# one address, that account or address is refused for LOGIN_LOCKOUT_MINUTES (a 429 that says so).
# Lockout checks need the request, so the backend passes sign-ins made without one (the shell, tests).
AUTHENTICATION_BACKENDS = [
    "ledgerline.accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "ledgerline.accounts.backends.lockout_response"
AXES_CLIENT_IP_CALLABLE = "ledgerline.api.clients.client_address"
AXES_VERBOSE = False
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Content-Security-Policy, on every response (ledgerline.csp): scripts and styles only from the
# site's own files, so markup injected into a page cannot run. Pictures are inline SVG; a sound
# model's page plays its clips from data: URLs. The API docs relax styles for their views only.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "media-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

# Uploads: every file part is hashed while it streams to a temporary file on disk, so a
# large upload is never held in memory (see ledgerline.datasets.uploads).
FILE_UPLOAD_HANDLERS = ["ledgerline.datasets.uploads.HashingUploadHandler"]
FILE_UPLOAD_TEMP_DIR = VAR_DIR / "tmp"
FILE_UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True)
LEDGERLINE_MAX_UPLOAD_BYTES = envint("LEDGERLINE_MAX_UPLOAD_BYTES", 8 * 1024**3)
# A file handed to /verify is checked in memory: a 413 past this (a 25-minute 44.1 kHz stereo WAV).
LEDGERLINE_VERIFY_MAX_BYTES = envint("LEDGERLINE_VERIFY_MAX_BYTES", 256 * 1024**2)
LEDGERLINE_BLOB_DIR = Path(envstr("LEDGERLINE_BLOB_DIR", str(VAR_DIR / "blobs")))
# Resumable uploads (tus): one left unfinished this long after its last bytes is deleted, and a
# user's unfinished uploads may reserve this many bytes in all (their declared lengths).
LEDGERLINE_UPLOAD_EXPIRY_SECONDS = envint("LEDGERLINE_UPLOAD_EXPIRY_SECONDS", 24 * 3600)
LEDGERLINE_UPLOAD_QUOTA_BYTES = envint("LEDGERLINE_UPLOAD_QUOTA_BYTES", 64 * 1024**3)

# Signing keys: ECDSA P-256, one active key per organisation, stored as encrypted PEM.
# The embedded default keeps them under var/keys with a passphrase made on first run;
# a deployment points SIGNING_KEYS_DIR at a mounted volume and passes the passphrase.
SIGNING_KEYS_DIR = Path(envstr("SIGNING_KEYS_DIR", str(VAR_DIR / "keys")))
SIGNING_KEY_PASSPHRASE = envsecret("SIGNING_KEY_PASSPHRASE")
# Refused here, at settings load, so that gunicorn, Celery and every manage.py command stop alike.
if not SIGNING_KEY_PASSPHRASE and not DEBUG and public_hosts(ALLOWED_HOSTS):
    raise ImproperlyConfigured(
        f"ALLOWED_HOSTS names {', '.join(public_hosts(ALLOWED_HOSTS))} but SIGNING_KEY_PASSPHRASE is not set, "
        f"so the signing keys would be encrypted with the embedded default passphrase, kept beside them in "
        f"{SIGNING_KEYS_DIR / '.passphrase'}. Set SIGNING_KEY_PASSPHRASE_FILE (or SIGNING_KEY_PASSPHRASE) to a "
        f"passphrase kept elsewhere; for keys made already, move that .passphrase file out of {SIGNING_KEYS_DIR} "
        f"and point SIGNING_KEY_PASSPHRASE_FILE at it. A demo on this machine alone keeps "
        f"ALLOWED_HOSTS=127.0.0.1,localhost."
    )

# Chain: the embedded py-evm chain under var/chain unless CHAIN_RPC_URL names a node.
# The sending account is an Ethereum keystore file (never in the database); the embedded
# default makes one on first use, encrypted with the signing-key passphrase.
CHAIN_RPC_URL = envstr("CHAIN_RPC_URL")
CHAIN_STATE_DIR = Path(envstr("CHAIN_STATE_DIR", str(VAR_DIR / "chain")))
CHAIN_ACCOUNT_KEYFILE = Path(envstr("CHAIN_ACCOUNT_KEYFILE", str(SIGNING_KEYS_DIR / "chain-account.json")))
CHAIN_ACCOUNT_PASSPHRASE = envsecret("CHAIN_ACCOUNT_PASSPHRASE")
CHAIN_CONTRACT_ADDRESS = envstr("CHAIN_CONTRACT_ADDRESS")
# The node auditors are sent to (/chain/): CHAIN_RPC_URL is often an address inside the deployment.
# On the embedded chain the site serves its own read-only JSON-RPC at /chain/rpc instead.
CHAIN_PUBLIC_RPC_URL = envstr("CHAIN_PUBLIC_RPC_URL")
# An RFC 3161 time stamp authority that countersigns each C2PA signature (none by default).
C2PA_TSA_URL = envstr("C2PA_TSA_URL")
CHAIN_CONFIRMATIONS = envint("CHAIN_CONFIRMATIONS", 1)
CHAIN_TX_TIMEOUT = envint("CHAIN_TX_TIMEOUT", 120)

# IPFS: the embedded blockstore under var/ipfs unless IPFS_API_URL names a Kubo RPC API
# (e.g. http://127.0.0.1:5001). CIDs are the same either way: CIDv1, raw leaves, 256 KiB.
IPFS_API_URL = envstr("IPFS_API_URL")
IPFS_BLOCKS_DIR = Path(envstr("IPFS_BLOCKS_DIR", str(VAR_DIR / "ipfs" / "blocks")))
# With a real IPFS node, hosts share nothing else: dataset files, works' outputs, training
# checkpoints and resume points, and the (encrypted) signing keys go to that node, fetched by hash
# and checked on arrival; var/ is a cache. Keep that node private to the deployment (README).

# Leases (ledgerline.leases): one worker at a time per training run, generation and mint, across
# hosts; a dead worker's lease expires after LEDGERLINE_LEASE_SECONDS (renewed every third of it).
LEDGERLINE_LEASE_SECONDS = envint("LEDGERLINE_LEASE_SECONDS", 60)

# The pipeline (training runs and works). Checkpoints live under LEDGERLINE_RUNS_DIR (and on
# IPFS); a work whose melody repeats more than LEDGERLINE_ORIGINALITY_MAX_RUN intervals of one
# training piece verbatim is held back from minting. MIDI renders with LEDGERLINE_RENDERER
# (tinysoundfont, from PyPI; or fluidsynth where installed) and LEDGERLINE_SOUNDFONT (default:
# the General MIDI font pretty_midi ships, TimGM6mb).
LEDGERLINE_RUNS_DIR = Path(envstr("LEDGERLINE_RUNS_DIR", str(VAR_DIR / "runs")))
LEDGERLINE_ORIGINALITY_MAX_RUN = envint("LEDGERLINE_ORIGINALITY_MAX_RUN", 16)
LEDGERLINE_RENDERER = envstr("LEDGERLINE_RENDERER", "tinysoundfont")
LEDGERLINE_SOUNDFONT = envstr("LEDGERLINE_SOUNDFONT")
LEDGERLINE_MINT_BATCH = envint("LEDGERLINE_MINT_BATCH", 100)

# How many reverse proxies of ours stand in front of the site. 0 (the default): X-Forwarded-For is
# the client's to write, so it is ignored; N: the address N hops from the right of it is the client's.
NUM_PROXIES = envint("NUM_PROXIES", 0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ledgerline.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "ledgerline.api.parsers.JSONParser",
        "ledgerline.datasets.uploads.CheckedMultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "ledgerline.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "ledgerline.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "ledgerline.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # The public verification endpoint, per client address; accounts get more.
    # Forwarded headers name the client only behind that many proxies of ours (ledgerline.api.clients).
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        # Creating API tokens, per account: a stolen session cannot mint them by the thousand.
        "token_create": envstr("LEDGERLINE_TOKEN_CREATE_RATE", "20/hour"),
        "verify_anon": envstr("LEDGERLINE_VERIFY_RATE_ANON", "20/min"),
        "verify_user": envstr("LEDGERLINE_VERIFY_RATE_USER", "120/min"),
        # The embedded chain's read-only JSON-RPC (/chain/rpc), per client address.
        "chain_rpc": envstr("LEDGERLINE_CHAIN_RPC_RATE", "600/min"),
    },
}
# Throttle counts live in the cache, which every web process must share: files under var/cache by
# default (make run's gunicorn workers on one machine), Redis when CACHE_URL names it.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": envstr("CACHE_URL")}
    if envstr("CACHE_URL")
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ledgerline API",
    "DESCRIPTION": "Provenance and licensing for AI-generated music.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Celery. The embedded default is the filesystem transport under var/celery: no server.
# A deployment sets CELERY_BROKER_URL=redis://...
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://")
_celery_dir = VAR_DIR / "celery"
if CELERY_BROKER_URL == "filesystem://":
    for sub in ("queue", "processed", "control"):
        (_celery_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(_celery_dir / "control"),  # the exchange tables (default: ./control)
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "store_processed": False,
    }
    (_celery_dir / "results").mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = envstr(
    "CELERY_RESULT_BACKEND",
    f"file://{_celery_dir / 'results'}" if CELERY_BROKER_URL == "filesystem://" else CELERY_BROKER_URL,
)
CELERY_IMPORTS = [
    "ledgerline.tasks",
    "ledgerline.pipeline.tasks",
    "ledgerline.training.tasks",
    "ledgerline.ledger.tasks",
    "ledgerline.datasets.tasks",
    "ledgerline.audit.tasks",
]
CELERY_TASK_DEFAULT_QUEUE = "default"
# Training and generation go to the `gpu` queue (workers with torch, CUDA when present, and no
# signing secret); hashing, signing (a trained model's publishing too), pinning and minting stay on `default`.
CELERY_TASK_ROUTES = {
    "ledgerline.training.run": {"queue": "gpu"},
    "ledgerline.works.generate": {"queue": "gpu"},
    "ledgerline.audit.regenerate": {"queue": "gpu"},
}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # Lockouts and repeated failures are warnings; each failed attempt's bookkeeping is not news.
    "loggers": {"axes": {"level": "WARNING"}},
}

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from ledgerline import chain_rpc, gateway
from ledgerline.api.errors import api_not_found
from ledgerline.csp import csp_relaxed


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


# Swagger UI and Redoc style their pages with <style> elements and style attributes and draw icons
# from data: URLs; Redoc runs its search in a worker made from a blob: URL. Their pages alone allow that.
swagger_policy = csp_relaxed(style_src=["'self'", "'unsafe-inline'"], img_src=["'self'", "data:"])
redoc_policy = csp_relaxed(
    style_src=["'self'", "'unsafe-inline'"], img_src=["'self'", "data:"], worker_src=["'self'", "blob:"]
)

urlpatterns = [
    path("", include("ledgerline.portal.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("ipfs/<str:cid>", gateway.gateway),
    path("ipfs/<str:cid>/", gateway.gateway),  # a folder, as gateways serve it
    path("chain/", chain_rpc.chain_info),
    path("chain/rpc", chain_rpc.rpc),
    path("c2pa/trust-settings.json", chain_rpc.c2pa_trust_settings),
    path("ipfs/<str:cid>/<path:path>", gateway.gateway),
    path("api/v1/", include("ledgerline.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script), not inline.
    path("api/docs/", swagger_policy(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="api-docs"),
    path("api/redoc/", redoc_policy(SpectacularRedocView.as_view(url_name="schema")), name="api-redoc"),
    path("api/<path:rest>", api_not_found),
]

handler404 = "ledgerline.api.errors.page_not_found"
handler500 = "ledgerline.portal.views.server_error"

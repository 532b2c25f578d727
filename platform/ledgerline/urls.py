from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from ledgerline.api.errors import api_not_found
from ledgerline.storage import views as storage_views


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", include("ledgerline.portal.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("ipfs/<str:cid>", storage_views.gateway),
    path("ipfs/<str:cid>/<path:path>", storage_views.gateway),
    path("api/v1/", include("ledgerline.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/<path:rest>", api_not_found),
]

handler500 = "ledgerline.portal.views.server_error"

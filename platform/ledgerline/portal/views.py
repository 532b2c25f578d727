"""Server-rendered pages for labels, artists and auditors (the full portal is issue 9)."""

from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ledgerline.accounts.models import Membership
from ledgerline.api.errors import api_server_error
from ledgerline.datasets.selectors import dataset_list
from ledgerline.provenance.selectors import audit_entry_list


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)  # login_required: never anonymous here
    memberships = Membership.objects.filter(user=user).select_related("organisation")
    organisation_ids = [m.organisation_id for m in memberships]
    return render(request, "portal/home.html", {
        "memberships": memberships,
        "datasets": dataset_list(organisation_ids=organisation_ids)[:50],
        "entries": audit_entry_list(organisation_ids=organisation_ids)[:20],
    })


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return render(request, "portal/500.html", status=500)

"""Generation requests as the API, portal and demo make them: the works' request (works.requests)
with the licence checked against the model's training data by royalties."""

from typing import Any

from django.contrib.auth.models import User

from ledgerline.accounts.models import Organisation
from ledgerline.royalties.services import licence_require
from ledgerline.training.models import ModelArtifact
from ledgerline.works import requests
from ledgerline.works.models import Generation, Work


def generation_request(
    *,
    organisation: Organisation,
    title: str,
    model: ModelArtifact,
    parameters: dict[str, Any],
    created_by: User | None,
    count: int = 1,
    seed: int | None = None,
) -> Generation:
    """Record a request for ``count`` works of ``model`` (works.requests.generation_request)."""
    return requests.generation_request(
        organisation=organisation,
        title=title,
        model=model,
        parameters=parameters,
        created_by=created_by,
        licence_require=licence_require,
        count=count,
        seed=seed,
    )


def work_request(
    *,
    organisation: Organisation,
    title: str,
    model: ModelArtifact,
    parameters: dict[str, Any],
    created_by: User | None,
    seed: int | None = None,
) -> Work:
    """One work: a generation of one."""
    generation = generation_request(
        organisation=organisation, title=title, model=model, parameters=parameters, created_by=created_by, seed=seed
    )
    return generation.works.get()

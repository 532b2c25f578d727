"""A dataset's file list costs the same number of queries however many files the page holds
(bench/load.py found it growing with the page: one query per file for the dataset's rights holders)."""

from pathlib import Path
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledgerline.datasets import samples
from ledgerline.datasets import services as datasets
from ledgerline.datasets.models import Dataset
from tests.conftest import Team, dataset_create


def queries_to_list(team: Team, dataset_id: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = team.owner.client.get(f"/api/v1/datasets/{dataset_id}/files/")
    assert response.status_code == 200
    return len(queries)


def files_add(team: Team, dataset_id: str, tmp_path: Path, count: int, first_seed: int) -> None:
    paths = [
        (f"m{seed}.mid", samples.melody_midi(tmp_path / f"{seed}.mid", seed=seed))
        for seed in range(first_seed, first_seed + count)
    ]
    datasets.dataset_files_import(dataset=Dataset.objects.get(pk=dataset_id), paths=paths, added_by=team.owner.user)


def test_listing_thirty_files_takes_as_many_queries_as_listing_two(team: Team, tmp_path: Path) -> None:
    holders = [{"name": "Bach estate", "identifier": "", "share": "1"}]
    small, large = dataset_create(team, rights_holders=holders), dataset_create(team, rights_holders=holders)
    files_add(team, small, tmp_path, 2, first_seed=1)
    files_add(team, large, tmp_path, 30, first_seed=100)
    assert queries_to_list(team, large) == queries_to_list(team, small)


def test_each_file_still_lists_its_datasets_rights_holders(team: Team, tmp_path: Path) -> Any:
    dataset_id = dataset_create(team, rights_holders=[{"name": "Bach estate", "identifier": "", "share": "1"}])
    files_add(team, dataset_id, tmp_path, 3, first_seed=1)
    files = team.owner.client.get(f"/api/v1/datasets/{dataset_id}/files/").json()["results"]
    assert [[h["name"] for h in f["rights_holders"]] for f in files] == [["Bach estate"]] * 3

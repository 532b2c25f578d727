"""Which files a run may not train on, by their consent as it is now."""

from ledgerline.datasets.consent import training_use
from ledgerline.datasets.models import DatasetVersion
from ledgerline.training.models import ModelArtifact
from ledgerline.training.selectors import run_chain


def training_consent_check(*, dataset_versions: list[DatasetVersion]) -> list[dict[str, str]]:
    """The files that may not be trained on, each with the reason. A file's own consent (which
    may have been withdrawn since the version was frozen) overrides its version's."""
    excluded = []
    for version in dataset_versions:
        for entry in version.entries.select_related("file"):
            own = entry.file.consent if entry.file is not None else {}
            consent = own or version.consent
            if training_use(consent) == "notAllowed":
                whose = "the file's" if own else f"{version.dataset.name} v{version.number}'s"
                excluded.append(
                    {
                        "version": str(version.pk),
                        "path": entry.path,
                        "sha256": entry.sha256,
                        "reason": f"{whose} consent does not allow AI training",
                    }
                )
    return excluded


def inherited_consent_check(*, base_model: ModelArtifact) -> list[dict[str, str]]:
    """The files a pretrained model was trained on (its own run's and those it inherited) whose
    consent no longer allows training. Its weights carry them: continuing it would use them again,
    and they cannot be left out the way a run leaves out files of its own data."""
    problems = []
    for link in run_chain(base_model.run):
        versions = list(link.dataset_versions.select_related("dataset"))
        left_out = {(e["version"], e["path"]) for e in link.excluded}
        problems += [
            e for e in training_consent_check(dataset_versions=versions) if (e["version"], e["path"]) not in left_out
        ]
    return problems

from django.urls import path

from ledgerline.accounts import api as accounts
from ledgerline.audit import api as audit
from ledgerline.datasets import api as datasets
from ledgerline.provenance import api as provenance
from ledgerline.royalties import api as royalties
from ledgerline.training import api as training
from ledgerline.works import api as works

urlpatterns = [
    path("verify", audit.VerifyApi.as_view()),
    path("verify/", audit.VerifyApi.as_view()),
    path("verifications/<uuid:verification_id>/", audit.VerificationApi.as_view()),
    path("verifications/<uuid:verification_id>/report.<str:suffix>", audit.VerificationReportApi.as_view()),
    path("me/", accounts.MeApi.as_view()),
    path("organisations/<slug:slug>/members/", accounts.MemberListApi.as_view()),
    path("organisations/<slug:slug>/keys/rotate/", provenance.KeyRotateApi.as_view()),
    path("tokens/", accounts.TokenListApi.as_view()),
    path("tokens/<uuid:token_id>/", accounts.TokenDetailApi.as_view()),
    path("keys/", provenance.KeyListApi.as_view()),
    path("audit-log/", provenance.AuditLogApi.as_view()),
    path("datasets/", datasets.DatasetListApi.as_view()),
    path("datasets/<uuid:dataset_id>/", datasets.DatasetDetailApi.as_view()),
    path("datasets/<uuid:dataset_id>/files/", datasets.DatasetFileListApi.as_view()),
    path("datasets/<uuid:dataset_id>/versions/", datasets.DatasetVersionListApi.as_view()),
    path("dataset-files/<uuid:file_id>/", datasets.DatasetFileDetailApi.as_view()),
    path("dataset-files/<uuid:file_id>/consent/", datasets.DatasetFileConsentApi.as_view()),
    path("dataset-versions/<uuid:version_id>/", datasets.DatasetVersionDetailApi.as_view()),
    path("dataset-versions/<uuid:version_id>/proof/", datasets.DatasetVersionProofApi.as_view()),
    path("dataset-versions/<uuid:version_id>/croissant/", datasets.DatasetVersionCroissantApi.as_view()),
    path("blobs/<str:sha256>", datasets.BlobContentApi.as_view()),
    path("training-runs/", training.TrainingRunListApi.as_view()),
    path("training-runs/<uuid:run_id>/", training.TrainingRunDetailApi.as_view()),
    path("generations/", works.GenerationListApi.as_view()),
    path("generations/<uuid:generation_id>/", works.GenerationDetailApi.as_view()),
    path("works/", works.WorkListApi.as_view()),
    path("works/<uuid:work_id>/", works.WorkDetailApi.as_view()),
    path("works/<uuid:work_id>/royalties/", royalties.WorkRoyaltiesApi.as_view()),
    path("works/<uuid:work_id>/isrc/", royalties.WorkIsrcApi.as_view()),
    path("organisations/<slug:slug>/royalty-policy/", royalties.RoyaltyPolicyApi.as_view()),
    path("organisations/<slug:slug>/isrc-registrant/", royalties.RegistrantApi.as_view()),
    path("rights-holders/<uuid:holder_id>/account/", royalties.HolderAccountApi.as_view()),
    path("dataset-versions/<uuid:version_id>/licence-conditions/", royalties.VersionConditionsApi.as_view()),
    path("licence-check/", royalties.LicenceCheckApi.as_view()),
    path("usage-events/", royalties.UsageEventListApi.as_view()),
    path("usage-events/bulk/", royalties.UsageImportApi.as_view()),
    path("statements/", royalties.StatementListApi.as_view()),
    path("statements/<str:period>/<str:payee>/", royalties.StatementDetailApi.as_view()),
    path("statements/<str:period>/<str:payee>.<str:suffix>", royalties.StatementDetailApi.as_view()),
]

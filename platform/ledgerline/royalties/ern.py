"""A release as a DDEX ERN 4.3 NewReleaseMessage, every value read from the works' signed manifests.

Each work is a SoundRecording: its ISRC, its title, and the released WAV as a file with the
manifest's SHA-256 and size (its duration and format read from that very file). Its AI disclosure
comes from the manifest's lineage. ERN 4.3 has no element for AI involvement, so the message says it
with what the schema offers (README, "Releases and DDEX ERN"):

- the model is a Party (its weights' SHA-256 as a ProprietaryId) and a Contributor whose Role is
  UserDefined "AIMusicModel"; the rights holders of the training data are Contributors with the
  UserDefined Role "TrainingDataRightsHolder", never performers or composers;
- DisplayCredits say it in words: what was generated and by which model, each dataset version the
  model learned from (name, version, licence, Merkle root), each rights holder, the work's licence;
- the SoundRecordingEdition's ProprietaryIds name the work and the SHA-256 of its signed manifest,
  which a verifier fetches from IPFS to check every one of these values against the signature.

Deals are left out (the optional DealList): Ledgerline holds no commercial terms.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET

import soundfile
from django.utils import timezone

from ledgerline.datasets.blobs import blob_file
from ledgerline.errors import Conflict
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.royalties.models import Release, ReleaseTrack
from ledgerline.royalties.releases import NOT_XML, release_tracks

ERN = "http://ddex.net/xml/ern/43"
AVS_VERSION = "3"  # the allowed-value sets the ERN 4.3 schema ships with
NAMESPACE = "Ledgerline"  # who defines the ProprietaryIds and UserDefined values below
MODEL_ROLE = "AIMusicModel"
HOLDER_ROLE = "TrainingDataRightsHolder"
ORGANISATION = "P-ORGANISATION"
LABEL = "P-LABEL"
ET.register_namespace("ern", ERN)


@dataclass(frozen=True)
class Audio:
    """What the released WAV's header says (the file whose SHA-256 the manifest signs)."""

    seconds: float
    sample_rate: int
    channels: int
    bits: int | None


def release_ern(release: Release, *, recipient: str = "") -> bytes:
    """The release's NewReleaseMessage as UTF-8 XML, addressed to ``recipient`` (a DPID; without
    one, to its sender, who forwards it)."""
    if not release.sender_dpid:
        raise Conflict(
            f"{release.title} has no sender DPID: set sender_dpid to the DDEX Party ID (PADPIDA...) "
            "it is sent under, as the ERN schema requires one.",
            fields={"sender_dpid": ["missing"]},
        )
    tracks = release_tracks(release)
    manifests = [track_manifest(track) for track in tracks]
    audios = [work_audio(m["content_sha256"], m["work"]["title"]) for m in manifests]
    root = ET.Element(f"{{{ERN}}}NewReleaseMessage", {"LanguageAndScriptCode": "en", "AvsVersionId": AVS_VERSION})
    header = _sub(root, "MessageHeader")
    _sub(header, "MessageThreadId", str(release.pk))
    _sub(header, "MessageId", uuid.uuid4().hex)
    for role, dpid, name in (
        ("MessageSender", release.sender_dpid, release.organisation.name),
        ("MessageRecipient", recipient or release.sender_dpid, None),
    ):
        party = _sub(header, role)
        _sub(party, "PartyId", dpid)
        if name:
            _sub(_sub(party, "PartyName"), "FullName", name)
    _sub(header, "MessageCreatedDateTime", timezone.now().isoformat(timespec="seconds"))
    _sub(header, "MessageControlType", "LiveMessage")
    parties = Parties(release)
    resources = ET.Element("ResourceList")
    for i, (track, manifest, audio) in enumerate(zip(tracks, manifests, audios, strict=True), start=1):
        resources.append(sound_recording(i, track, manifest, audio, parties))
    root.append(parties.element)
    root.append(resources)
    root.append(release_list(release, tracks, sum(audio.seconds for audio in audios)))
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def track_manifest(track: ReleaseTrack) -> dict[str, Any]:
    """The work's signed manifest, checked to be the work's: the ERN repeats what it says."""
    work = track.work
    manifest: dict[str, Any] = work.manifest.get("manifest") or {}
    if manifest.get("work", {}).get("id") != str(work.pk) or manifest.get("content_sha256") != work.content_sha256:
        raise Conflict(f"The signed manifest of {work.title} ({work.pk}) does not describe its released audio.")
    return manifest


def work_audio(sha256: str, title: str) -> Audio:
    """The released WAV's duration and format, read from the stored file."""
    try:
        info = soundfile.info(str(blob_file(sha256)))
    except (FileNotFoundError, RuntimeError, soundfile.LibsndfileError) as exc:
        raise Conflict(f"The released audio of {title} ({sha256}) cannot be read here: {exc}.") from None
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "PCM_U8": 8, "FLOAT": 32, "DOUBLE": 64}.get(info.subtype)
    return Audio(seconds=info.frames / info.samplerate, sample_rate=info.samplerate, channels=info.channels, bits=bits)


class Parties:
    """The PartyList: the organisation, its label, and each model and rights holder the manifests
    name, once each, with the reference the resources point at."""

    def __init__(self, release: Release) -> None:
        self.element = ET.Element("PartyList")
        self.references: dict[tuple[str, str], str] = {}
        organisation = release.organisation
        self._party(ORGANISATION, organisation.name, ("organisation", str(organisation.pk)))
        self._party(LABEL, release.label_name, None)

    def _party(self, reference: str, name: str, proprietary: tuple[str, str] | None, isni: str = "") -> str:
        party = _sub(self.element, "Party")
        _sub(party, "PartyReference", reference)
        _sub(_sub(party, "PartyName"), "FullName", name)
        if isni or proprietary:
            party_id = _sub(party, "PartyId")
            if isni:
                _sub(party_id, "ISNI", isni)
            if proprietary:
                _sub(party_id, "ProprietaryId", proprietary[1], Namespace=f"{NAMESPACE}:{proprietary[0]}")
        return reference

    def _next(self, kind: str) -> str:
        return f"P-{kind}-{sum(1 for k in self.references if k[0] == kind.lower()) + 1}"

    def model(self, model: dict[str, Any]) -> str:
        key = ("model", str(model["weights_sha256"]))
        if key not in self.references:
            name = f"AI model {key[1][:12]} (Ledgerline training run {model['training_run']})"
            self.references[key] = self._party(self._next("MODEL"), name, ("model-sha256", key[1]))
        return self.references[key]

    def holder(self, holder: dict[str, Any]) -> str:
        identifier = str(holder.get("identifier") or "")
        key = ("holder", str(holder.get("holder") or f"{holder['name']}/{identifier}"))
        if key not in self.references:
            isni = identifier if len(identifier) == 16 and identifier[:15].isdigit() else ""
            proprietary = ("rights-holder", str(holder["holder"])) if holder.get("holder") else None
            self.references[key] = self._party(self._next("HOLDER"), str(holder["name"]), proprietary, isni=isni)
        return self.references[key]


def sound_recording(
    i: int, track: ReleaseTrack, manifest: dict[str, Any], audio: Audio, parties: Parties
) -> ET.Element:
    """The work as a SoundRecording: identified by its ISRC, its file by the manifest's hash."""
    work = track.work
    title = str(manifest["work"]["title"])
    recording = ET.Element("SoundRecording")
    _sub(recording, "ResourceReference", f"A{i}")
    _sub(recording, "Type", "MusicalWorkSoundRecording")
    edition = _sub(recording, "SoundRecordingEdition")
    ids = _sub(edition, "ResourceId")
    _sub(ids, "ISRC", work.isrc.code)
    _sub(ids, "ProprietaryId", str(manifest["work"]["id"]), Namespace=f"{NAMESPACE}:work")
    _sub(ids, "ProprietaryId", sha256_bytes(canonical_json(work.manifest)), Namespace=f"{NAMESPACE}:manifest-sha256")
    year = str(manifest["work"]["created_at"])[:4]
    organisation = str(manifest["organisation"]["name"])
    _p_line(edition, year, organisation)
    technical_details(edition, i, work.cid, manifest, audio)
    _titles(recording, title)
    _artist(recording, organisation)
    model_ref = parties.model(manifest["model"])
    holders = [(d, h, parties.holder(h)) for d in manifest["datasets"] for h in d.get("rights") or []]
    roles = {model_ref: MODEL_ROLE} | {reference: HOLDER_ROLE for _, _, reference in holders}
    for n, (reference, role) in enumerate(roles.items(), start=1):
        contributor = _sub(recording, "Contributor", SequenceNumber=str(n))
        _sub(contributor, "ContributorPartyReference", reference)
        _sub(contributor, "Role", "UserDefined", Namespace=NAMESPACE, UserDefinedValue=role)
    controller = _sub(recording, "ResourceRightsController")
    _sub(controller, "RightsControllerPartyReference", ORGANISATION)
    _sub(controller, "RightsControlType", "RightsController")
    _sub(controller, "RightSharePercentage", "100")
    _sub(recording, "Duration", _duration(audio.seconds))
    _sub(recording, "CreationDate", str(manifest["work"]["created_at"])[:10])
    _sub(recording, "ParentalWarningType", "NoAdviceAvailable")
    for text, reference in ai_disclosure(manifest, model_ref, holders):
        credit = _sub(recording, "DisplayCredits")
        _sub(credit, "DisplayCreditText", text)
        _sub(credit, "DisplayCreditParty", reference)
    return recording


def technical_details(edition: ET.Element, i: int, cid: str, manifest: dict[str, Any], audio: Audio) -> None:
    details = _sub(edition, "TechnicalDetails")
    _sub(details, "TechnicalResourceDetailsReference", f"T{i}")
    delivery = _sub(details, "DeliveryFile")
    _sub(delivery, "Type", "AudioFile")
    _sub(delivery, "ContainerFormat", "WAV")
    _sub(delivery, "NumberOfChannels", str(audio.channels))
    _sub(delivery, "SamplingRate", str(audio.sample_rate), UnitOfMeasure="Hz")
    if audio.bits is not None:
        _sub(delivery, "BitsPerSample", str(audio.bits))
    _sub(delivery, "Duration", _duration(audio.seconds))
    file = _sub(delivery, "File")
    _sub(file, "URI", f"ipfs://{cid}/work.wav" if cid else f"sha256:{manifest['content_sha256']}")
    hash_sum = _sub(file, "HashSum")
    _sub(hash_sum, "Algorithm", "SHA-256")
    _sub(hash_sum, "HashSumValue", str(manifest["content_sha256"]))
    audio_output = next((o for o in manifest["outputs"] if o["kind"] == "audio"), None)
    if audio_output is not None:
        _sub(file, "FileSize", str(audio_output["size"]))


def ai_disclosure(
    manifest: dict[str, Any], model_ref: str, holders: list[tuple[dict[str, Any], dict[str, Any], str]]
) -> list[tuple[str, str]]:
    """The AI disclosure in words, each line with the party it credits: what was generated and by
    which model, what the model learned from, whose recordings those were, and the licence."""
    model = manifest["model"]
    kinds = {o["kind"] for o in manifest["outputs"]}
    made = "its composition (MIDI) and its audio" if "midi" in kinds else "its audio"
    sources = manifest.get("sources") or []
    lines = [
        (
            f"AI-generated: the whole recording, {made}, was generated by an AI model (weights SHA-256 "
            f"{model['weights_sha256']}, training run {model['training_run']})"
            + ("." if sources else "; no human performance."),
            model_ref,
        )
    ]
    lines += [(f"Generated as a variation of {_source(source)}.", model_ref) for source in sources]
    lines += [
        (f"The model continues the pretrained model with weights SHA-256 {base['weights_sha256']}.", model_ref)
        for base in model.get("bases") or []
    ]
    for dataset in manifest["datasets"]:
        via = f", through the pretrained model {dataset['inherited_from']}" if dataset.get("inherited_from") else ""
        lines.append(
            (
                f"The model was trained on the dataset {dataset['dataset']} v{dataset['number']} "
                f"(licence {dataset['licence'] or 'none given'}, Merkle root {dataset['merkle_root']}){via}.",
                model_ref,
            )
        )
    lines += [
        (
            f"Training data: recordings of {holder['name']} in {dataset['dataset']} v{dataset['number']} "
            f"trained the model ({_percent(holder['share'])} of that dataset's rights).",
            reference,
        )
        for dataset, holder, reference in holders
    ]
    lines.append((f"Released under the licence {manifest['licence']}.", ORGANISATION))
    return lines


def _percent(share: Any) -> str:
    return f"{(Decimal(str(share)) * 100).normalize():f}%"


def _source(source: dict[str, Any]) -> str:
    if source.get("kind") == "work":
        return f"the work {source.get('title')} (SHA-256 {source['sha256']})"
    return f"the recording {source.get('path') or ''} (SHA-256 {source['sha256']})".replace("  ", " ")


def release_list(release: Release, tracks: list[ReleaseTrack], seconds: float) -> ET.Element:
    """The ReleaseList: the release itself, its tracks in order."""
    releases = ET.Element("ReleaseList")
    product = _sub(releases, "Release")
    _sub(product, "ReleaseReference", "R0")
    _sub(product, "ReleaseType", "Single" if len(tracks) == 1 else "EP" if len(tracks) <= 6 else "Album")
    ids = _sub(product, "ReleaseId")
    if release.icpn:
        _sub(ids, "ICPN", release.icpn)
    _sub(ids, "ProprietaryId", str(release.pk), Namespace=f"{NAMESPACE}:release")
    _titles(product, release.title)
    _artist(product, release.organisation.name)
    _sub(product, "ReleaseLabelReference", LABEL)
    year = str(release.release_date.year if release.release_date else release.created_at.year)
    _p_line(product, year, release.organisation.name)
    _sub(product, "Duration", _duration(seconds))
    _sub(_sub(product, "Genre"), "GenreText", "Unknown")
    if release.release_date:
        _sub(product, "ReleaseDate", release.release_date.isoformat())
    _sub(product, "ParentalWarningType", "NoAdviceAvailable")
    group = _sub(product, "ResourceGroup")
    _sub(group, "NoDisplaySequence", "true")
    for i, track in enumerate(tracks, start=1):
        item = _sub(group, "ResourceGroupContentItem")
        _sub(item, "SequenceNumber", str(track.sequence))
        _sub(item, "NoDisplaySequence", "true")
        _sub(item, "ReleaseResourceReference", f"A{i}")
    return releases


def _titles(parent: ET.Element, title: str) -> None:
    _sub(parent, "DisplayTitleText", title)
    _sub(_sub(parent, "DisplayTitle"), "TitleText", title)


def _artist(parent: ET.Element, name: str) -> None:
    _sub(parent, "DisplayArtistName", name)
    artist = _sub(parent, "DisplayArtist", SequenceNumber="1")
    _sub(artist, "ArtistPartyReference", ORGANISATION)
    _sub(artist, "DisplayArtistRole", "MainArtist")


def _p_line(parent: ET.Element, year: str, company: str) -> None:
    line = _sub(parent, "PLine")
    _sub(line, "Year", year)
    _sub(line, "PLineCompany", company)
    _sub(line, "PLineText", f"\u2117 {year} {company}")


def _duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    """A child element; its text and attribute values without the characters XML 1.0 cannot carry
    (ElementTree escapes the rest, and would write those as they are)."""
    element = ET.SubElement(parent, tag, {k: NOT_XML.sub("", v) for k, v in attributes.items()})
    if text is not None:
        element.text = NOT_XML.sub("", text)
    return element

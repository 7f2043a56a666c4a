"""Sample values for the takedown request templates: each distinct, so a test can tell which
field a rendered text carries."""

from __future__ import annotations

from hotline.domain.legal import LegalBasis, RequestField, template_fields

SAMPLE_FIELDS: dict[RequestField, str] = {
    RequestField.SIGNATURE: "Signed: Case officer 0417, Victim Support Centre",
    RequestField.CONTENT_IDENTIFICATION: "A sexual deepfake video showing the victim's face",
    RequestField.URLS: "https://x.com/someone/status/1790000000000000001\n"
                       "https://t.me/somechannel/123",
    RequestField.GOOD_FAITH_STATEMENT: "Good faith: she never agreed to this (sample 4)",
    RequestField.EXPLANATION: "The face was taken from her public profile photo (sample 5)",
    RequestField.CONTACT: "takedown@centre.example, +82 2 0000 0000",
    RequestField.NOTIFIER_NAME: "Victim Support Centre takedown desk",
    RequestField.NOTIFIER_EMAIL: "desk@centre.example",
    RequestField.REQUESTER: "Digital Sex Crime Victim Support Center (sample 9)",
    RequestField.POLICY_BROKEN: "Non-consensual intimate imagery policy (sample 10)",
    RequestField.WORK_IDENTIFICATION: "The victim's own photograph, taken 2024-03-01",
    RequestField.ACCURACY_STATEMENT: "Accurate, under penalty of perjury (sample 12)",
}


def sample_values(basis: LegalBasis) -> dict[str, str]:
    """The variables of `prompts/<lang>/takedown/<basis>.txt`, filled with sample values."""
    return {f.value: SAMPLE_FIELDS[f] for f in template_fields(basis)}

"""The failure-mode taxonomy: every mode with its MITRE ATLAS techniques, OWASP IDs (ML Top 10,
LLM Top 10 and Top 10 for Agentic Applications, each with its list version), default severity and
default playbook. This table is the project's own (facts: IDs, names, tactics);
descriptions, mitigations and case studies come from the full ATLAS data file (see
:mod:`airsoc.incidents.atlas`).

Example:
    >>> mode = failure_mode("data_poisoning")
    >>> [t.id for t in mode.atlas]
    ['AML.T0020', 'AML.T0010.002', 'AML.T0019']
    >>> mode.default_severity, mode.owasp[0].id, mode.owasp[0].version
    ('sev2', 'ML02', '2023')
    >>> [(o.id, o.version) for o in failure_mode("prompt_injection").owasp]
    [('LLM01', '2025'), ('LLM07', '2025'), ('ASI01', '2026')]
"""

from __future__ import annotations

from dataclasses import dataclass

from airsoc.errors import UnknownFailureModeError

__all__ = [
    "ATLAS_VERSION",
    "FAILURE_MODES",
    "OWASP_AGENTIC_TOP10",
    "OWASP_AGENTIC_VERSION",
    "OWASP_LLM_VERSION",
    "OWASP_ML_VERSION",
    "AtlasTechnique",
    "FailureMode",
    "OwaspEntry",
    "failure_mode",
]

#: The ATLAS release whose IDs, names and tactics the table below was checked against.
ATLAS_VERSION = "5.6.0"
OWASP_ML_VERSION = "2023"
OWASP_LLM_VERSION = "2025"
#: The OWASP Top 10 for Agentic Applications as published in December 2025 (titled "2026").
OWASP_AGENTIC_VERSION = "2026"


@dataclass(frozen=True)
class AtlasTechnique:
    """A MITRE ATLAS technique: ID, name and the tactics it serves."""

    id: str
    name: str
    tactics: tuple[str, ...]


@dataclass(frozen=True)
class OwaspEntry:
    """An entry of an OWASP Top 10 list, with the list it belongs to and that list's version."""

    list: str
    id: str
    name: str
    version: str


@dataclass(frozen=True)
class FailureMode:
    """One failure mode of an AI system and how airsoc handles it by default."""

    name: str
    summary: str
    signal: str
    default_containment: str
    default_severity: str
    default_playbook: str
    atlas: tuple[AtlasTechnique, ...]
    owasp: tuple[OwaspEntry, ...]


def _t(id_: str, name: str, *tactics: str) -> AtlasTechnique:
    return AtlasTechnique(id_, name, tactics)


def _ml(id_: str, name: str) -> OwaspEntry:
    return OwaspEntry("OWASP ML Top 10", id_, name, OWASP_ML_VERSION)


def _llm(id_: str, name: str) -> OwaspEntry:
    return OwaspEntry("OWASP LLM Top 10", id_, name, OWASP_LLM_VERSION)


def _asi(id_: str, name: str) -> OwaspEntry:
    return OwaspEntry("OWASP Agentic Top 10", id_, name, OWASP_AGENTIC_VERSION)


_POISON = _t("AML.T0020", "Poison Training Data", "Resource Development", "Persistence")
_SUPPLY_DATA = _t("AML.T0010.002", "AI Supply Chain Compromise: Data", "Initial Access")
_SUPPLY_MODEL = _t("AML.T0010.003", "AI Supply Chain Compromise: Model", "Initial Access")
_PUBLISH_DATA = _t("AML.T0019", "Publish Poisoned Datasets", "Resource Development")
_EVADE = _t("AML.T0015", "Evade AI Model", "Initial Access", "Defense Evasion", "Impact")
_CRAFT = _t("AML.T0043", "Craft Adversarial Data", "AI Attack Staging")
_EXFIL = _t("AML.T0024", "Exfiltration via AI Inference API", "Exfiltration")
_EXTRACT = _t(
    "AML.T0024.002", "Exfiltration via AI Inference API: Extract AI Model", "Exfiltration"
)
_API = _t("AML.T0040", "AI Model Inference API Access", "AI Model Access")
_PI = _t("AML.T0051", "LLM Prompt Injection", "Execution")
_PI_DIRECT = _t("AML.T0051.000", "LLM Prompt Injection: Direct", "Execution")
_PI_INDIRECT = _t("AML.T0051.001", "LLM Prompt Injection: Indirect", "Execution")
_JAILBREAK = _t("AML.T0054", "LLM Jailbreak", "Privilege Escalation", "Defense Evasion")
_LEAK = _t("AML.T0057", "LLM Data Leakage", "Exfiltration")
_SYSPROMPT = _t("AML.T0056", "Extract LLM System Prompt", "Exfiltration")
_HARMS = _t("AML.T0048", "External Harms", "Impact")
_RAG_POISON = _t("AML.T0070", "RAG Poisoning", "Persistence")
_FALSE_RAG = _t("AML.T0071", "False RAG Entry Injection", "Defense Evasion")
_HALLUC = _t("AML.T0062", "Discover LLM Hallucinations", "Discovery")
_ERODE = _t("AML.T0031", "Erode AI Model Integrity", "Impact")
_ERODE_DATA = _t("AML.T0059", "Erode Dataset Integrity", "Impact")
_SOCIETAL = _t("AML.T0048.002", "External Harms: Societal Harm", "Impact")
_MANIPULATE = _t("AML.T0018", "Manipulate AI Model", "Persistence", "AI Attack Staging")
_PUBLISH_MODEL = _t("AML.T0058", "Publish Poisoned Models", "Resource Development")

_ML01 = _ml("ML01", "Input Manipulation Attack")
_ML02 = _ml("ML02", "Data Poisoning Attack")
_ML05 = _ml("ML05", "Model Theft")
_ML06 = _ml("ML06", "AI Supply Chain Attacks")
_ML08 = _ml("ML08", "Model Skewing")
_ML09 = _ml("ML09", "Output Integrity Attack")
_ML10 = _ml("ML10", "Model Poisoning")
_LLM01 = _llm("LLM01", "Prompt Injection")
_LLM02 = _llm("LLM02", "Sensitive Information Disclosure")
_LLM03 = _llm("LLM03", "Supply Chain")
_LLM04 = _llm("LLM04", "Data and Model Poisoning")
_LLM05 = _llm("LLM05", "Improper Output Handling")
_LLM07 = _llm("LLM07", "System Prompt Leakage")
_LLM08 = _llm("LLM08", "Vector and Embedding Weaknesses")
_LLM09 = _llm("LLM09", "Misinformation")
_LLM10 = _llm("LLM10", "Unbounded Consumption")

#: The whole agentic list, in its published order (modes below cite the entries that fit them).
OWASP_AGENTIC_TOP10: tuple[OwaspEntry, ...] = (
    _asi("ASI01", "Agent Goal Hijack"),
    _asi("ASI02", "Tool Misuse and Exploitation"),
    _asi("ASI03", "Identity and Privilege Abuse"),
    _asi("ASI04", "Agentic Supply Chain Vulnerabilities"),
    _asi("ASI05", "Unexpected Code Execution"),
    _asi("ASI06", "Memory and Context Poisoning"),
    _asi("ASI07", "Insecure Inter-Agent Communication"),
    _asi("ASI08", "Cascading Failures"),
    _asi("ASI09", "Human-Agent Trust Exploitation"),
    _asi("ASI10", "Rogue Agents"),
)
_ASI01, _ASI04 = OWASP_AGENTIC_TOP10[0], OWASP_AGENTIC_TOP10[3]

FAILURE_MODES: dict[str, FailureMode] = {
    m.name: m
    for m in (
        FailureMode(
            "data_drift",
            "inputs no longer look like the reference (covariate shift)",
            "PSI/KS/chi2/JS per feature, domain classifier",
            "alert, investigate; retrain",
            "sev4",
            "data-drift",
            (_ERODE_DATA,),
            (_ML08,),
        ),
        FailureMode(
            "concept_drift",
            "the input->label relation changed; performance decays",
            "accuracy/recall/F1 on delayed labels, DDM/ADWIN/Page-Hinkley",
            "rollback or retrain",
            "sev3",
            "concept-drift",
            (_ERODE,),
            (_ML08,),
        ),
        FailureMode(
            "prediction_drift",
            "outputs shift: confidence decay, output homogeneity",
            "score distribution, entropy, top-class share",
            "investigate",
            "sev4",
            "prediction-drift",
            (_ERODE,),
            (_ML08, _ML09),
        ),
        FailureMode(
            "pipeline_fault",
            "a measurement or data-pipeline bug, not the model",
            "schema change, null rate, volume drop, staleness",
            "pause pipeline; do NOT retrain",
            "sev3",
            "pipeline-fault",
            (),
            (),
        ),
        FailureMode(
            "data_poisoning",
            "corrupted training data (e.g. a compromised vendor batch)",
            "per-batch screening, label disagreement, spectral scores",
            "rollback to last known-good; quarantine batch",
            "sev2",
            "poisoned-training-data",
            (_POISON, _SUPPLY_DATA, _PUBLISH_DATA),
            (_ML02, _ML10, _LLM04),
        ),
        FailureMode(
            "adversarial_evasion",
            "crafted inputs flip predictions at inference",
            "off-manifold distance, instability under small noise",
            "rate-limit/block client; fallback",
            "sev2",
            "adversarial-evasion",
            (_EVADE, _CRAFT),
            (_ML01,),
        ),
        FailureMode(
            "model_extraction",
            "query abuse to steal or probe the model",
            "per-client query volume and near-duplicate probing",
            "throttle/block client",
            "sev2",
            "model-extraction",
            (_EXTRACT, _EXFIL, _API),
            (_ML05, _LLM10),
        ),
        FailureMode(
            "prompt_injection",
            "direct/indirect injection, jailbreak",
            "rules, canary tokens, similarity to known attacks",
            "block; safe fallback; human handoff",
            "sev2",
            "prompt-injection",
            (_PI, _PI_DIRECT, _PI_INDIRECT, _JAILBREAK, _SYSPROMPT),
            (_LLM01, _LLM07, _ASI01),
        ),
        FailureMode(
            "harmful_output",
            "toxic, unsafe or leaking output",
            "output classifiers, canary/secret leaks",
            "fallback to scripted responses",
            "sev2",
            "harmful-output",
            (_HARMS, _LEAK),
            (_ML09, _LLM02, _LLM05),
        ),
        FailureMode(
            "hallucination_cascade",
            "ungrounded answers (e.g. citing non-existent policies), amplified by feedback loops",
            "citation existence, claim support, repeat rate",
            "disable retrieval; scripted fallback; remove document",
            "sev2",
            "hallucination-cascade",
            (_HALLUC, _RAG_POISON, _FALSE_RAG),
            (_LLM09, _LLM08),
        ),
        FailureMode(
            "fairness_regression",
            "outcomes diverge across protected groups",
            "disparate impact ratio, parity/opportunity gaps",
            "pause; notify owners; retrain",
            "sev2",
            "fairness-regression",
            (_SOCIETAL,),
            (_ML08,),
        ),
        FailureMode(
            "supply_chain",
            "an artifact or data source is not what it claims",
            "hash mismatch against registry",
            "block deploy; rollback",
            "sev1",
            "supply-chain",
            (_SUPPLY_MODEL, _SUPPLY_DATA, _PUBLISH_MODEL, _MANIPULATE),
            (_ML06, _LLM03, _ASI04),
        ),
        FailureMode(
            "release_regression",
            "a newly promoted version behaves worse than its own validation or shadow evidence, "
            "with no sign of attack",
            "score/confidence shift right after a promotion, canary vs primary comparison, "
            "performance on delayed labels",
            "rollback; hold promotion",
            "sev3",
            "release-regression",
            (),
            (),
        ),
        FailureMode(
            "platform_fault",
            "a part of airsoc itself stopped or went blind (writer, worker, a monitor without "
            "data)",
            "self-monitoring heartbeats, lag, error counts",
            "page the platform owner; never auto-contain a model",
            "sev2",
            "platform-fault",
            (),
            (),
        ),
    )
}


def failure_mode(name: str) -> FailureMode:
    """Return the failure mode called ``name``; an unknown name raises with the known ones.

    >>> failure_mode("drift")
    Traceback (most recent call last):
    ...
    airsoc.errors.UnknownFailureModeError: unknown failure mode 'drift'; known: ...
    """
    try:
        return FAILURE_MODES[name]
    except KeyError:
        known = ", ".join(sorted(FAILURE_MODES))
        raise UnknownFailureModeError(f"unknown failure mode {name!r}; known: {known}") from None

"""The rule table of ``caps lint``: stable ids (``A2A-SEC-001`` …), a slug name, a title, a default
severity, a one-line why and a one-line fix, and the source of the rule. Every rule is documented
one by one in ``docs/lint-rules.md`` (the anchor is the lower-case id, ``#a2a-sec-001``).

An id never changes meaning: a rule that is dropped keeps its number retired, a new rule takes the
next number (``tests/lint/test_rules_table.py`` pins the id → name → title table).

Severities: ``error``, ``warning``, ``info`` (SARIF ``note``); ``SEVERITY_RANK`` orders them for
``--fail-on``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"
INFO = "info"

#: Severity order for ``--fail-on`` (``none`` fails on nothing).
SEVERITY_RANK = {INFO: 1, WARNING: 2, ERROR: 3}


@dataclass(frozen=True)
class Rule:
    """One lint rule: ``id`` (stable, ``A2A-SEC-NNN``), ``name`` (a stable slug), ``title`` (one
    line), ``severity`` (``error``/``warning``/``info``), ``why`` and ``fix`` (one line each),
    ``source`` (the spec section, RFC or advisory the rule rests on), and ``live``: the rule calls
    the endpoint and only runs with ``--live``."""

    id: str
    name: str
    title: str
    severity: str
    why: str
    fix: str
    source: str
    live: bool = False

    @property
    def anchor(self) -> str:
        """The rule's anchor in ``docs/lint-rules.md`` (``a2a-sec-001``)."""
        return self.id.lower()

    def to_json(self) -> dict[str, Any]:
        """``{"id", "name", "title", "severity", "why", "fix", "source", "live"}``."""
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "severity": self.severity,
            "why": self.why,
            "fix": self.fix,
            "source": self.source,
            "live": self.live,
        }


RULES: tuple[Rule, ...] = (
    Rule(
        "A2A-SEC-001",
        "plaintext-http",
        "Interface or auth URL over plain http outside loopback",
        ERROR,
        "Messages, task data and credentials cross the network unencrypted and can be read or "
        "changed on the way.",
        "Serve the endpoint over https:// (wss:// for WebSocket); keep http:// for loopback only.",
        "A2A v0.3 §4.1 transport security (HTTPS in production); RFC 6749 §3.1/§3.2 (TLS for "
        "OAuth endpoints)",
    ),
    Rule(
        "A2A-SEC-002",
        "no-security-scheme",
        "No security scheme, but skills that take input",
        WARNING,
        "Anyone who can reach the endpoint can send the skills data and run them; nothing tells "
        "clients that a credential is needed.",
        "Declare securitySchemes and securityRequirements (bearer, OAuth 2, OpenID Connect or mTLS) "
        "and enforce them, or document that the agent is public on purpose.",
        "A2A v1.0 §4.5 security objects; v0.3 §5.5.3 SecurityScheme",
    ),
    Rule(
        "A2A-SEC-003",
        "auth-not-enforced",
        "A declared credential is not required by the endpoint (--live)",
        ERROR,
        "The card asks clients for a bearer token or API key, but the endpoint answers A2A calls "
        "that carry none: the authentication is decoration.",
        "Reject requests without valid credentials with HTTP 401 (WWW-Authenticate) before any A2A handling.",
        "A2A v1.0 §4.5 security objects; RFC 6750 §3 (bearer token errors)",
        live=True,
    ),
    Rule(
        "A2A-SEC-004",
        "removed-oauth-flow",
        "OAuth 2 flow deprecated by A2A 1.0 (implicit, password)",
        ERROR,
        "The implicit flow leaks tokens through redirects and the password flow hands the user's "
        "password to the client; RFC 9700 rules both out and A2A 1.0 deprecates both.",
        "Use authorizationCode with PKCE (pkceRequired), clientCredentials or deviceCode.",
        "A2A 1.0 OAuthFlows, implicit and password marked deprecated (a2aproject/A2A#1303); RFC 9700 §2.1.2 and §2.4 (OAuth 2.0 Security BCP)",
    ),
    Rule(
        "A2A-SEC-005",
        "push-without-auth",
        "Push notifications without an authentication scheme",
        WARNING,
        "Unauthenticated clients can register webhooks: the agent will POST task data to URLs of "
        "anyone's choosing (SSRF, spam), and no client identity backs a webhook's credentials.",
        "Declare and require a security scheme when capabilities.pushNotifications is true; "
        "authenticate deliveries with the config's authentication/token and refuse private webhook "
        "URLs.",
        "A2A v1.0 §4.3.3 push notifications, §13.2 push notification security",
    ),
    Rule(
        "A2A-SEC-006",
        "credentials-in-url",
        "Credentials in a URL",
        ERROR,
        "A user:password part or a token/key/signature query parameter in a published card is a "
        "leaked secret: the card is public and cached.",
        "Remove the credential from the URL and rotate it; declare a security scheme instead.",
        "RFC 3986 §3.2.1 (userinfo is deprecated); RFC 6750 §5.3 (do not pass bearer tokens in URLs)",
    ),
    Rule(
        "A2A-SEC-007",
        "private-url",
        "Private, link-local or loopback URL in a public card",
        ERROR,
        "A public card that points at 10.x, 192.168.x, 169.254.x, fc00::/7 or loopback addresses "
        "leaks internal topology and sends clients (and their credentials) to hosts they cannot or "
        "must not reach.",
        "Advertise public host names only; publish a separate card for internal clients.",
        "RFC 1918, RFC 3927, RFC 4193 (private and link-local ranges); A2A v1.0 §13.2 (private "
        "addresses and SSRF)",
    ),
    Rule(
        "A2A-SEC-008",
        "interface-host-differs",
        "Interface host differs from the card's host",
        INFO,
        "Legitimate behind API gateways, but a card served by one host that sends calls and "
        "credentials to another is worth a look.",
        "Nothing to fix when intended; otherwise advertise the host that serves the card, or "
        "allow-list this finding with a reason.",
        "A2A v1.0 §4.4.6 AgentInterface; §8.2 agent discovery (well-known URI, RFC 8615)",
    ),
    Rule(
        "A2A-SEC-009",
        "instruction-text",
        "Instruction-like text aimed at models",
        WARNING,
        "Card text is read by other agents' models: phrases such as 'ignore previous instructions' "
        "or chat-template tokens are a prompt-injection surface.",
        "Describe what the agent and its skills do; never address the reader's model.",
        "OWASP LLM01:2025 prompt injection; A2A v1.0 §13 security considerations",
    ),
    Rule(
        "A2A-SEC-010",
        "unicode-tags",
        "Hidden Unicode tag characters (U+E0000-U+E007F)",
        ERROR,
        "Tag characters are invisible to people but read by models as ASCII: the classic way to "
        "smuggle hidden instructions into text.",
        "Remove every character in U+E0000-U+E007F from the card.",
        "Unicode 15 §23.9 tag characters; OWASP LLM01:2025 (invisible-character injection)",
    ),
    Rule(
        "A2A-SEC-011",
        "bidi-control",
        "Bidirectional control characters",
        ERROR,
        "Embedding, override and isolate controls make text display differently from what it is "
        "(Trojan Source): a reviewer and a model read different things.",
        "Remove U+202A-U+202E and U+2066-U+2069; right-to-left text needs no control characters.",
        "Unicode UAX #9; CVE-2021-42574 (Trojan Source)",
    ),
    Rule(
        "A2A-SEC-012",
        "zero-width-run",
        "Run of zero-width characters",
        WARNING,
        "Two or more invisible characters in a row carry no meaning for people; they hide data or "
        "split words so filters miss them.",
        "Remove the zero-width characters (U+200B-U+200D, U+2060-U+2064, U+FEFF, U+180E) and runs of "
        "variation selectors (U+FE00-U+FE0F, U+E0100-U+E01EF).",
        "Unicode UTS #39 §5 (invisible characters); OWASP LLM01:2025",
    ),
    Rule(
        "A2A-SEC-013",
        "oversized-field",
        "Oversized field or card",
        WARNING,
        "Very long descriptions and examples fill other agents' context windows (and hide text in "
        "them); very large cards slow every client's discovery.",
        "Keep names under 200 characters, descriptions under 4,000, examples under 1,000, other "
        "strings under 2,048, at most 200 skills and 50 examples or tags a skill, the card under "
        "256 KiB; link long documentation with documentationUrl.",
        "a2actl limits (docs/lint-rules.md); A2A v1.0 §4.4.5 AgentSkill",
    ),
    Rule(
        "A2A-SEC-014",
        "missing-provider",
        "No provider",
        INFO,
        "Without provider.organization and provider.url nobody can tell who runs the agent or whom "
        "to contact about it.",
        'Add "provider": {"organization": "...", "url": "https://..."}.',
        "A2A v1.0 §4.4.2 AgentProvider; v0.3 §5.5.1",
    ),
    Rule(
        "A2A-SEC-015",
        "missing-documentation-url",
        "No documentationUrl",
        INFO,
        "Clients and reviewers have nowhere to read the agent's terms, data handling and auth set-up.",
        'Add "documentationUrl": "https://...".',
        "A2A v1.0 §4.4.1 AgentCard.documentationUrl; v0.3 §5.5",
    ),
    Rule(
        "A2A-SEC-016",
        "api-key-in-query",
        "API key sent in the query string",
        WARNING,
        "Query strings end up in access logs, proxies, browser history and Referer headers.",
        'Send the key in a header ("location": "header").',
        "A2A v1.0 §4.5 APIKeySecurityScheme.location; RFC 6750 §5.3",
    ),
    Rule(
        "A2A-SEC-017",
        "script-url",
        "URL with a scheme that runs code or reads local files",
        ERROR,
        "Registries, dashboards and agent UIs render card links: a javascript:, vbscript: or data: "
        "URL runs script in the viewer's browser (XSS), a file: URL points clients at their own disk.",
        "Use https:// URLs for the interfaces, documentation, icon and provider links.",
        "WHATWG URL and HTML (javascript: URL navigation); OWASP XSS Prevention Cheat Sheet (validate "
        "URL schemes); RFC 8089 (file URI)",
    ),
    Rule(
        "A2A-SEC-018",
        "duplicate-key",
        "Member repeated with different values",
        ERROR,
        "JSON readers disagree on a repeated member: most keep the last value, some the first, strict "
        "ones refuse the card, so a registry or reviewer can approve one interface URL while clients "
        "call another.",
        "Write each member once per object (a card generator that merges objects by text is the "
        "usual cause).",
        "RFC 8259 §4 (names SHOULD be unique; the behaviour of readers is unpredictable); RFC 7493 "
        "§2.3 (I-JSON: names MUST be unique)",
    ),
    Rule(
        "A2A-SEC-019",
        "undeclared-security-scheme",
        "Security requirement names an undeclared scheme",
        ERROR,
        "A requirement names its scheme by the key of securitySchemes; with no such entry clients "
        "cannot know how to authenticate, and a gateway configured from the card may enforce nothing.",
        "Declare the scheme under that name in securitySchemes, or fix the name in the requirement.",
        "A2A v1.0 §4.5 Security Objects (SecurityRequirement), §4.4.5 AgentSkill; v0.3 §5.5 "
        "AgentCard.security",
    ),
)

#: The rules by id.
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def matching(patterns: list[str]) -> set[str]:
    """The ids matched by ``patterns``: each an id or a prefix of ids (``A2A-SEC-01``, ``A2A-SEC``),
    case-insensitive, or a rule name (``plaintext-http``). Raises ``ValueError`` naming the first
    pattern that matches no rule."""
    out: set[str] = set()
    for raw in patterns:
        pat = raw.strip()
        if not pat:
            continue
        up = pat.upper()
        hits = {r.id for r in RULES if r.id.startswith(up) or r.name == pat.lower()}
        if not hits:
            shown = pat if len(pat) <= 60 else pat[:59] + "…"
            raise ValueError(f"{shown!r} matches no lint rule (ids A2A-SEC-001 to {RULES[-1].id})")
        out |= hits
    return out

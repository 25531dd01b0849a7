"""The table of credential formats the secret detector knows: one row per format.

Each row says what the credential looks like (a regex whose group `value` is the secret), which
lowercase keywords must occur in a text before the regex is worth running (the prefilter), how
random a value must be where the shape alone does not identify it (`min_entropy`, bits per
character), an optional checksum, and a synthetic example generated here from a seeded random
source -- never a real key. `distinctive` rows are recognised with no telling name nearby
(`client.configure("<token>")`); the others need a keyword such as `heroku` next to the value.

The formats were taken from the public facts of each service (prefix, alphabet, length); the
regexes and examples are written for this project. Adding a format is adding one row.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

from codelupe_dagster.core.secret_checksums import crc32_base62, has_crc32_suffix


@dataclass(frozen=True)
class SecretRule:
    id: str
    service: str
    pattern: str  # group "value" is what gets replaced
    keywords: tuple[str, ...]  # lowercase; the rule runs only when one of them occurs
    min_entropy: float = 0.0
    checksum: Callable[[str], bool] | None = None
    distinctive: bool = True
    name: str = ""  # for keyed rows: a variable name that makes the value a credential
    template: str = ""  # how `example` was generated; other seeds give more synthetic values
    # Where the regex runs: `keywords` are also the anchors, found by the prefilter (matched
    # case-sensitively when `anchor_case`). With `back` None the regex is matched AT each anchor
    # (it starts with it); otherwise it is searched in [anchor - back, anchor + forward].
    anchor_case: bool = False
    back: int | None = None
    forward: int = 400
    # For ASCII text, a Hyperscan regex used instead of the keywords to find the rule's places:
    # for short prefixes that are common in code (`pat` of `path`, `AC` of `ACCESS`).
    anchor_pattern: str = ""

    @cached_property
    def example(self) -> str:
        """A synthetic value of this format, never a real key: made on first use, since making all
        ~300 at import cost every process that redacts ~25 ms, and only tests and benches read them."""
        return synthetic_example(self.template, self.id)


_ALPHABETS = {
    "b62": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "low": "abcdefghijklmnopqrstuvwxyz0123456789",
    "up": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "alpha": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "u64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    "b64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "b32": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "dig": "0123456789",
    "BECH": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
    "b32l": "abcdefghijklmnopqrstuvwxyz234567",
    "dj": "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)",  # Django's get_random_secret_key
}
_FIELD = re.compile(r"\{(\w+):(\d+)\}|\{crc\}|\{uuid\}")


def synthetic_example(template: str, seed: str) -> str:
    """Fills `{alphabet:n}` fields with seeded random characters; `{crc}` is the CRC32 (base62)
    of the field before it; `{uuid}` a random lowercase UUID."""
    rng = random.Random(seed)
    last = ""

    def fill(match: re.Match[str]) -> str:
        nonlocal last
        if match.group(0) == "{crc}":
            return crc32_base62(last)
        if match.group(0) == "{uuid}":
            h = "".join(rng.choice(_ALPHABETS["hex"]) for _ in range(32))
            return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
        alphabet = _ALPHABETS[match.group(1)]
        last = "".join(rng.choice(alphabet) for _ in range(int(match.group(2))))
        return last

    return _FIELD.sub(fill, template)


_BEFORE = r"(?<![A-Za-z0-9_])"
_AFTER = r"(?![A-Za-z0-9_\-])"


def token(
    rule_id: str,
    service: str,
    prefix: str,
    body: str,
    template: str,
    *,
    keywords: tuple[str, ...] = (),
    checksum: Callable[[str], bool] | None = None,
    after: str = _AFTER,
    min_entropy: float = 0.0,
) -> SecretRule:
    """A self-identifying token: a literal prefix and a body of known alphabet and length."""
    return SecretRule(
        id=rule_id,
        service=service,
        pattern=f"{_BEFORE}(?P<value>{re.escape(prefix)}{body}){after}",
        keywords=keywords or (prefix,),
        anchor_case=not keywords,
        min_entropy=min_entropy,
        checksum=checksum,
        # A token whose keyword is not its own prefix needs that keyword somewhere nearby.
        distinctive=not keywords or prefix in keywords,
        template=prefix + template,
    )


def shaped(
    rule_id: str,
    service: str,
    pattern: str,
    anchors: tuple[str, ...],
    template: str,
    min_entropy: float = 0.0,
    *,
    back: int | None = None,
    forward: int = 400,
    anchor_case: bool = True,
) -> SecretRule:
    """A self-identifying format whose regex is not just prefix + body."""
    return SecretRule(
        rule_id,
        service,
        pattern,
        anchors,
        min_entropy,
        template=template,
        anchor_case=anchor_case,
        back=back,
        forward=forward,
    )


# Between a telling name (`heroku_api_key`) and its value: the rest of the name, a closing
# quote, an operator of any common syntax, an opening quote.
# Also a typed declaration (Rust `const X: &str = "…"`) and a name/value pair: XML's `<add
# key="X" value="…"/>` and a Kubernetes env entry's `- name: X` with `value: …` on the next line.
# A subscript's bracket and Ruby's `||=` (`ENV["HEROKU_API_KEY"] ||= '…'`), and quotes escaped by
# an enclosing string (a notebook's JSON cell: `"API_KEY = \"…\"\n"`).
_NAME_TO_VALUE = (
    r"[\w.\-]{0,30}\\?[\"'`]?\]?(?:\s{0,3}(?::=|=>|\?=|\|\|=|&&=|=|:\s{0,3}&?(?:'static\s+)?(?:str|string|String)\s{0,3}="
    r"|:|,)|\s{1,40}value\s?[=:])\s{0,3}(?:\\?[\"'`]|\[?u?[\"'])?"
)


def keyed(
    rule_id: str,
    service: str,
    names: str,
    value: str,
    template: str,
    keywords: tuple[str, ...],
    min_entropy: float = 3.0,
    name: str = "",
    forward: int = 300,
) -> SecretRule:
    """A format that is only a credential next to a telling name (32 hex next to `datadog`)."""
    pattern = f"(?i:{names}){_NAME_TO_VALUE}(?P<value>{value}){_AFTER}"
    name = name or keywords[0].strip("-_.:$=?&") + "_key"
    return SecretRule(
        rule_id,
        service,
        pattern,
        keywords,
        min_entropy,
        checksum=None,
        distinctive=False,
        name=name,
        template=template,
        anchor_case=False,
        # The regex starts with `names`, which is also the Hyperscan anchor (all text is scanned
        # as ASCII), so the regex is matched AT each anchor: a search over a window from every
        # `lob` of `global` cost more than the rest of the scan on JavaScript.
        back=None,
        forward=forward,
        anchor_pattern=names,
    )


def _gh(rule_id: str, prefix: str) -> SecretRule:
    return token(rule_id, "GitHub", prefix, "[A-Za-z0-9]{36}", "{b62:30}{crc}", checksum=has_crc32_suffix)


_HEX32 = "[a-f0-9]{32}"
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

RULES: tuple[SecretRule, ...] = (
    # --- private keys and signed tokens -------------------------------------------------------
    shaped(
        "private_key",
        "PEM",
        # Only base64, PEM headers and the quotes/escapes/`+` of a key split over string literals
        # may sit between the markers, so a PEM parser's code between two marker constants stays.
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?P<value>[A-Za-z0-9+/=\s\"'\\,:.\-]{16,}?)"
        r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        ("-----BEGIN ",),
        "-----BEGIN PRIVATE KEY-----\n{b64:64}\n{b64:64}\n{b64:20}==\n-----END PRIVATE KEY-----",
    ),
    shaped(
        "putty_private_key",
        "PuTTY",
        # Lines may be indented (the file inside a YAML block scalar).
        r"Private-Lines: \d+(?:\\n|\r?\n)(?P<value>(?:[ \t]*[A-Za-z0-9+/=]{1,64}(?:\\n|\r?\n))+)",
        ("Private-Lines:",),
        "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\n{b64:44}\n",
    ),
    shaped(
        "jwt",
        "JWT",
        _BEFORE + r"(?P<value>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})",
        ("eyJ",),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{u64:40}.{u64:43}",
    ),
    shaped(
        "jwt_base64",
        "JWT",
        # base64 of `eyJ...` starts with `ZXlK`; the wrapped token keeps its `.eyJ` as `LmV5`.
        _BEFORE + r"(?P<value>ZXlK[A-Za-z0-9+/]{20,}LmV5[A-Za-z0-9+/]{20,}={0,2})",
        ("ZXlK",),
        "ZXlKaGJHY2lPaUpJVXpJMU5pSjkuZXlK{b64:40}LmV5{b64:40}",
    ),
    shaped(
        "age_secret_key",
        "age",
        r"(?P<value>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
        ("AGE-SECRET-KEY-1",),
        "AGE-SECRET-KEY-1{BECH:58}",
    ),
    # --- GitHub, GitLab, other forges and registries ------------------------------------------
    _gh("github_pat", "ghp_"),
    _gh("github_oauth", "gho_"),
    _gh("github_user_to_server", "ghu_"),
    _gh("github_server_to_server", "ghs_"),
    _gh("github_refresh", "ghr_"),
    token(
        "github_fine_grained_pat",
        "GitHub",
        "github_pat_",
        "[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
        "{b62:22}_{b62:59}",
    ),
    token("gitlab_pat", "GitLab", "glpat-", r"[A-Za-z0-9_\-]{20,300}(?:\.[a-z0-9]{9})?", "{b62:20}"),
    token("gitlab_deploy_token", "GitLab", "gldt-", r"[A-Za-z0-9_\-]{20,50}", "{b62:20}"),
    token("gitlab_pipeline_trigger", "GitLab", "glptt-", "[a-f0-9]{40}", "{hex:40}"),
    token("gitlab_runner_token", "GitLab", "glrt-", r"[A-Za-z0-9_\-]{20,300}(?:\.[a-z0-9]{9})?", "{b62:20}"),
    token("gitlab_runner_registration", "GitLab", "GR1348941", r"[A-Za-z0-9_\-]{20}", "{b62:20}"),
    token("gitlab_ci_build_token", "GitLab", "glcbt-", r"[A-Za-z0-9_\-]{20,60}", "{hex:2}_{b62:20}"),
    token("gitlab_incoming_mail", "GitLab", "glimt-", r"[A-Za-z0-9_\-]{25}", "{low:25}"),
    token("gitlab_feed_token", "GitLab", "glft-", r"[A-Za-z0-9_\-]{20}", "{b62:20}"),
    token("gitlab_scim_token", "GitLab", "glsoat-", r"[A-Za-z0-9_\-]{20}", "{b62:20}"),
    token("gitlab_oauth_secret", "GitLab", "gloas-", r"[A-Za-z0-9_\-]{64}", "{hex:64}"),
    token("gitlab_agent_token", "GitLab", "glagent-", r"[A-Za-z0-9_\-]{50}", "{b62:50}"),
    token("gitlab_feature_flag_token", "GitLab", "glffct-", r"[A-Za-z0-9_\-]{20}", "{b62:20}"),
    token("npm_token", "npm", "npm_", "[A-Za-z0-9]{36}", "{b62:30}{crc}", checksum=has_crc32_suffix),
    token("pypi_token", "PyPI", "pypi-AgEIcHlwaS5vcmc", r"[A-Za-z0-9_\-]{50,}", "{u64:70}"),
    token("testpypi_token", "PyPI", "pypi-AgENdGVzdC5weXBpLm9yZw", r"[A-Za-z0-9_\-]{50,}", "{u64:70}"),
    token("rubygems_key", "RubyGems", "rubygems_", "[a-f0-9]{48}", "{hex:48}"),
    token("nuget_key", "NuGet", "oy2", "[a-z0-9]{43}", "{low:43}"),
    token("clojars_token", "Clojars", "CLOJARS_", "[a-z0-9]{60}", "{low:60}"),
    token("docker_hub_pat", "Docker", "dckr_pat_", r"[A-Za-z0-9_\-]{27}", "{u64:27}"),
    token("docker_hub_oat", "Docker", "dckr_oat_", r"[A-Za-z0-9_\-]{32}", "{u64:32}"),
    token("artifactory_api_key", "JFrog", "AKCp", "[A-Za-z0-9]{69}", "{b62:69}"),
    # A reference token is base64 of `reftkn:01:…`, so it starts `cmVmd` and runs to 64 characters.
    token("artifactory_reference_token", "JFrog", "cmVmd", "[A-Za-z0-9]{59}", "{b62:59}", min_entropy=4.0),
    shaped(
        "bitbucket_app_password",
        "Bitbucket",
        # 24 or 28 characters before the upper-case hex tail are both seen in the wild.
        _BEFORE + "(?P<value>ATBB[A-Za-z0-9]{24}(?:[A-Za-z0-9]{4})?[A-F0-9]{8})" + _AFTER,
        ("ATBB",),
        "ATBB{b62:24}{HEX:8}",
    ),
    token(
        "sourcegraph_token", "Sourcegraph", "sgp_", r"(?:[a-fA-F0-9]{16}_|local_)?[a-f0-9]{40}", "{hex:40}"
    ),
    token("buildkite_token", "Buildkite", "bkua_", "[a-f0-9]{40}", "{hex:40}"),
    token("circleci_pat", "CircleCI", "CCIPAT_", "[A-Za-z0-9]{22}_[a-f0-9]{40}", "{b62:22}_{hex:40}"),
    token("sonarqube_token", "SonarQube", "squ_", "[a-f0-9]{40}", "{hex:40}"),
    token("sonarqube_project_token", "SonarQube", "sqp_", "[a-f0-9]{40}", "{hex:40}"),
    token("sonarqube_analysis_token", "SonarQube", "sqa_", "[a-f0-9]{40}", "{hex:40}"),
    token("octopus_api_key", "Octopus Deploy", "API-", "[A-Z0-9]{26,32}", "{up:28}", min_entropy=3.5),
    token("readme_api_key", "ReadMe", "rdme_", "[a-z0-9]{70}", "{low:70}"),
    token("postman_api_key", "Postman", "PMAK-", "[a-f0-9]{24}-[a-f0-9]{34}", "{hex:24}-{hex:34}"),
    token("infracost_key", "Infracost", "ico-", "[A-Za-z0-9]{32}", "{b62:32}"),
    token("prefect_key", "Prefect", "pnu_", "[A-Za-z0-9]{36}", "{b62:36}"),
    token("typeform_token", "Typeform", "tfp_", r"[A-Za-z0-9_\-]{44,59}", "{b62:59}"),
    token("contentful_pat", "Contentful", "CFPAT-", r"[A-Za-z0-9_\-]{43}", "{u64:43}"),
    shaped(
        "harness_pat",
        "Harness",
        # `pat.` personal and `sat.` service-account tokens: account id, token id, secret.
        _BEFORE + r"(?P<value>(?:pat|sat)\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20})" + _AFTER,
        ("pat.", "sat."),
        "pat.{u64:22}.{b62:24}.{b62:20}",
    ),
    token("settlemint_pat", "SettleMint", "sm_pat_", "[A-Za-z0-9]{16}", "{b62:16}", min_entropy=3.0),
    token("settlemint_aat", "SettleMint", "sm_aat_", "[A-Za-z0-9]{16}", "{b62:16}", min_entropy=3.0),
    token("settlemint_sat", "SettleMint", "sm_sat_", "[A-Za-z0-9]{16}", "{b62:16}", min_entropy=3.0),
    # --- AI providers ---------------------------------------------------------------------------
    shaped(
        "openai_api_key",
        "OpenAI",
        _BEFORE
        + r"(?P<value>sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200})"
        + _AFTER,
        ("T3BlbkFJ",),
        "sk-proj-{u64:74}T3BlbkFJ{u64:74}",
        back=230,
        forward=230,
    ),
    token(
        "openai_project_key", "OpenAI", "sk-proj-", r"[A-Za-z0-9_\-]{40,200}", "{u64:120}", min_entropy=4.0
    ),
    token(
        "openai_service_account_key",
        "OpenAI",
        "sk-svcacct-",
        r"[A-Za-z0-9_\-]{40,200}",
        "{u64:120}",
        min_entropy=4.0,
    ),
    token("anthropic_api_key", "Anthropic", "sk-ant-api03-", r"[A-Za-z0-9_\-]{93}AA", "{u64:93}AA"),
    token("anthropic_admin_key", "Anthropic", "sk-ant-admin01-", r"[A-Za-z0-9_\-]{93}AA", "{u64:93}AA"),
    token("huggingface_token", "Hugging Face", "hf_", "[A-Za-z]{34}", "{alpha:34}"),
    token("huggingface_org_token", "Hugging Face", "api_org_", "[A-Za-z]{34}", "{alpha:34}"),
    token("openrouter_key", "OpenRouter", "sk-or-v1-", "[a-f0-9]{64}", "{hex:64}"),
    token("groq_key", "Groq", "gsk_", "[A-Za-z0-9]{52}", "{b62:52}"),
    token("perplexity_key", "Perplexity", "pplx-", "[A-Za-z0-9]{48}", "{b62:48}"),
    token("xai_key", "xAI", "xai-", "[A-Za-z0-9]{80}", "{b62:80}"),
    token("replicate_token", "Replicate", "r8_", "[A-Za-z0-9]{37}", "{b62:37}"),
    token(
        "langsmith_key", "LangSmith", "lsv2_", "(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}", "pt_{hex:32}_{hex:10}"
    ),
    token("pinecone_key", "Pinecone", "pcsk_", "[A-Za-z0-9]{4,6}_[A-Za-z0-9]{60,70}", "{b62:5}_{b62:65}"),
    token("fireworks_key", "Fireworks", "fw_", "[A-Za-z0-9]{24}", "{b62:24}"),
    token("anyscale_key", "Anyscale", "esecret_", "[a-z0-9]{26}", "{low:26}"),
    keyed("cohere_key", "Cohere", "cohere|co_api_key", "[A-Za-z0-9]{40}", "{b62:40}", ("cohere", "co_api")),
    keyed("mistral_key", "Mistral", "mistral", "[A-Za-z0-9]{32}", "{b62:32}", ("mistral",)),
    keyed("together_key", "Together", "together", "[a-f0-9]{64}", "{hex:64}", ("together",)),
    keyed("wandb_key", "Weights & Biases", "wandb", "[a-f0-9]{40}", "{hex:40}", ("wandb",)),
    keyed("deepseek_key", "DeepSeek", "deepseek", "sk-[a-f0-9]{32}", "sk-{hex:32}", ("deepseek",)),
    keyed(
        "gemini_key", "Google", "gemini|genai", r"AIza[0-9A-Za-z_\-]{35}", "AIza{u64:35}", ("gemini", "genai")
    ),
    # --- cloud providers ------------------------------------------------------------------------
    shaped(
        "aws_access_key_id",
        "AWS",
        # AKIA long-term, ASIA temporary (STS), ABIA/ACCA other issuers; AIDA/AROA etc. are
        # user/role identifiers, not credentials.
        _BEFORE + "(?P<value>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Za-z0-9])",
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
        "AKIA{b32:16}",
        min_entropy=3.0,
    ),
    keyed(
        "aws_secret_access_key",
        "AWS",
        r"secret_?access_?key|aws_?secret(?:_?key)?|secretkey",
        "[A-Za-z0-9/+=]{40}",
        "{b64:40}",
        ("secret_access", "secretaccess", "aws_secret", "awssecret", "secretkey", "secret_key"),
        min_entropy=4.0,
        name="aws_secret_access_key",
    ),
    keyed(
        "aws_session_token",
        "AWS",
        "session_?token|security_?token",
        "[A-Za-z0-9/+=]{100,1000}",
        "IQoJb3JpZ2luX2Vj{b64:200}",
        ("session_token", "sessiontoken", "security_token", "securitytoken"),
        4.5,
        name="aws_session_token",
    ),
    # STS session tokens are base64 of a binary blob that starts with the same bytes (the `origin`
    # of the issuing region), so the first 16 characters identify one with no name nearby.
    token(
        "aws_session_token_prefixed",
        "AWS",
        "IQoJb3JpZ2luX2Vj",
        "[A-Za-z0-9/+]{80,1000}={0,2}",
        "{b64:200}",
        after=r"(?![A-Za-z0-9/+=])",
        min_entropy=4.5,
    ),
    token("aws_mws_key", "AWS", "amzn.mws.", _UUID, "{uuid}"),
    shaped(
        "azure_ad_client_secret",
        "Azure",
        r"(?<![A-Za-z0-9_~.\-])(?P<value>[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?![A-Za-z0-9_~.\-])",
        ("Q~",),
        "{b62:3}8Q~{b62:34}",
        min_entropy=3.5,
        back=4,
        forward=45,
    ),
    keyed(
        "azure_storage_key",
        "Azure",
        "accountkey|storage_?key|azure_?storage",
        "[A-Za-z0-9+/]{86}==",
        "{b64:86}==",
        ("accountkey", "storage"),
        4.5,
    ),
    keyed(
        "azure_sas_signature",
        "Azure",
        r"[?&]sig|sas_?sig(?:nature)?",
        "[A-Za-z0-9%+/]{40,100}(?:%3D|=){0,2}",
        "{b64:43}%3D",
        ("sig=", "sas_sig", "sassig"),
        4.0,
        name="sas_signature",
    ),
    keyed(
        "azure_devops_pat",
        "Azure",
        "azure_?devops|ado_?pat|azdo",
        "[a-z2-7]{52}|[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4}",
        "{b32l:52}",
        ("azure_devops", "azuredevops", "ado_pat", "adopat", "azdo"),
        3.5,
        name="azure_devops_pat",
    ),
    token("google_api_key", "Google", "AIza", r"[0-9A-Za-z_\-]{35}", "{u64:35}"),
    token("gcp_oauth_client_secret", "Google", "GOCSPX-", r"[A-Za-z0-9_\-]{28}", "{u64:28}"),
    token(
        "google_oauth_access_token", "Google", "ya29.", r"[0-9A-Za-z_\-]{30,}", "{u64:120}", min_entropy=4.0
    ),
    shaped(
        "google_oauth_refresh_token",
        "Google",
        _BEFORE + r"(?P<value>1//0[A-Za-z0-9_\-]{40,})" + _AFTER,
        ("1//0",),
        "1//0{u64:100}",
        4.0,
    ),
    token("digitalocean_pat", "DigitalOcean", "dop_v1_", "[a-f0-9]{64}", "{hex:64}"),
    token("digitalocean_oauth", "DigitalOcean", "doo_v1_", "[a-f0-9]{64}", "{hex:64}"),
    token("digitalocean_refresh", "DigitalOcean", "dor_v1_", "[a-f0-9]{64}", "{hex:64}"),
    shaped(
        "alibaba_access_key_id",
        "Alibaba",
        _BEFORE + "(?P<value>LTAI[A-Za-z0-9]{12,20})" + _AFTER,
        ("LTAI",),
        "LTAI{b62:20}",
        3.5,
    ),
    keyed(
        "alibaba_secret",
        "Alibaba",
        "alibaba|aliyun|access_?key_?secret",
        "[A-Za-z0-9]{30}",
        "{b62:30}",
        ("alibaba", "aliyun", "access_key_secret", "accesskeysecret"),
        3.8,
    ),
    token("tencent_secret_id", "Tencent", "AKID", "[A-Za-z0-9]{32}", "{b62:32}", min_entropy=3.5),
    keyed(
        "tencent_secret_key",
        "Tencent",
        "tencent|secret_?key|secretkey",
        "[A-Za-z0-9]{32}",
        "{b62:32}",
        ("tencent", "secret_key", "secretkey"),
        4.0,
    ),
    token("yandex_api_key", "Yandex", "AQVN", r"[A-Za-z0-9_\-]{35,38}", "{u64:36}"),
    shaped(
        "yandex_iam_token",
        "Yandex",
        _BEFORE + r"(?P<value>t1\.[A-Z0-9a-z_\-]+=*\.[A-Z0-9a-z_\-]{86}=*)",
        ("t1.",),
        "t1.{u64:20}.{u64:86}",
    ),
    keyed("yandex_access_token", "Yandex", "yandex", r"YC[A-Za-z0-9_\-]{38}", "YC{u64:38}", ("yandex",)),
    token(
        "ibm_cloud_iam_key",
        "IBM",
        "ibm_",
        r"[A-Za-z0-9_\-]{44}",
        "{u64:44}",
        keywords=("ibm",),
        min_entropy=4.0,
    ),
    keyed(
        "ibm_cloud_key", "IBM", r"ibm(?:cloud)?_?(?:api)?_?key", r"[A-Za-z0-9_\-]{44}", "{u64:44}", ("ibm",)
    ),
    keyed(
        "oracle_cloud_key",
        "Oracle",
        "oci_?(?:api)?_?key|fingerprint_oci",
        "ocid1\\.[a-z]+\\.oc1\\.[a-z0-9.\\-]*\\.[a-z0-9]{60}",
        "ocid1.user.oc1..{low:60}",
        ("oci",),
    ),
    token("databricks_token", "Databricks", "dapi", "[a-f0-9]{32}(?:-\\d)?", "{hex:32}", min_entropy=3.0),
    token("openshift_token", "OpenShift", "sha256~", r"[A-Za-z0-9_\-]{43}", "{u64:43}"),
    # --- HashiCorp, infra and deploy platforms ---------------------------------------------------
    token("vault_service_token", "HashiCorp", "hvs.", r"[A-Za-z0-9_\-]{90,120}", "{u64:95}"),
    token("vault_batch_token", "HashiCorp", "hvb.", r"[A-Za-z0-9_\-]{138,300}", "{u64:150}"),
    token("vault_recovery_token", "HashiCorp", "hvr.", r"[A-Za-z0-9_\-]{90,120}", "{u64:100}"),
    keyed(
        "vault_legacy_token",
        "HashiCorp",
        "vault_?token|x-vault-token",
        r"s\.[A-Za-z0-9]{24}",
        "s.{b62:24}",
        ("vault",),
        name="vault_token",
    ),
    shaped(
        "terraform_cloud_token",
        "HashiCorp",
        _BEFORE + r"(?P<value>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70})" + _AFTER,
        (".atlasv1.",),
        "{b62:14}.atlasv1.{u64:67}",
        back=14,
        forward=90,
    ),
    token("pulumi_token", "Pulumi", "pul-", "[a-f0-9]{40}", "{hex:40}"),
    shaped(
        "doppler_token",
        "Doppler",
        # A service token names its config: `dp.st.<config>.<40>`.
        _BEFORE
        + r"(?P<value>dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_\-]{1,40}\.)?[A-Za-z0-9_\-]{40,44})"
        + _AFTER,
        ("dp.",),
        "dp.st.{low:6}.{b62:40}",
    ),
    token("heroku_api_key_v2", "Heroku", "HRKU-", r"[A-Za-z0-9_\-]{60}", "AA{u64:58}"),
    keyed("heroku_api_key", "Heroku", "heroku", _UUID, "{uuid}", ("heroku",)),
    token("netlify_pat", "Netlify", "nfp_", "[A-Za-z0-9]{36}", "{b62:36}"),
    keyed("netlify_token", "Netlify", "netlify", r"[A-Za-z0-9_\-]{40,46}", "{u64:43}", ("netlify",)),
    keyed("vercel_token", "Vercel", "vercel", "[A-Za-z0-9]{24}", "{b62:24}", ("vercel",)),
    token("fly_token", "Fly.io", "fo1_", r"[A-Za-z0-9_\-]{43}", "{u64:43}"),
    token("fly_macaroon", "Fly.io", "FlyV1 fm2_", r"[A-Za-z0-9+/=_,\-]{100,}", "{b64:160}"),
    shaped(
        "fly_macaroon_token",
        "Fly.io",
        # Without the `FlyV1 ` scheme: `fm2_` (and the older `fm1a_`/`fm1r_`) + base64.
        _BEFORE + r"(?P<value>fm(?:2|1[ar])_[A-Za-z0-9+/]{100,}={0,3})(?![A-Za-z0-9+/=_\-])",
        ("fm2_", "fm1a_", "fm1r_"),
        "fm2_{b64:160}",
        4.0,
    ),
    token("render_key", "Render", "rnd_", "[A-Za-z0-9]{32}", "{b62:32}"),
    keyed("railway_token", "Railway", "railway", _UUID, "{uuid}", ("railway",)),
    token("supabase_pat", "Supabase", "sbp_", "[a-f0-9]{40}", "{hex:40}"),
    token("planetscale_token", "PlanetScale", "pscale_tkn_", r"[A-Za-z0-9_.\-]{32,64}", "{u64:43}"),
    token("planetscale_password", "PlanetScale", "pscale_pw_", r"[A-Za-z0-9_.\-]{32,64}", "{u64:43}"),
    token("planetscale_oauth", "PlanetScale", "pscale_oauth_", r"[A-Za-z0-9_.\-]{32,64}", "{u64:43}"),
    shaped(
        "tailscale_key",
        "Tailscale",
        _BEFORE
        + r"(?P<value>tskey-(?:api|auth|client|webhook|scim)-[A-Za-z0-9]{6,}-[A-Za-z0-9]{20,})"
        + _AFTER,
        ("tskey-",),
        "tskey-auth-{b62:12}CNTRL-{b62:33}",
    ),
    keyed(
        "ngrok_token",
        "ngrok",
        "ngrok",
        "[0-9][A-Za-z0-9]{26}_[A-Za-z0-9]{21}",
        "2{b62:26}_{b62:21}",
        ("ngrok",),
    ),
    token("scalingo_token", "Scalingo", "tk-us-", r"[A-Za-z0-9_\-]{48}", "{u64:48}"),
    shaped(
        "defined_networking_key",
        "Defined Networking",
        _BEFORE + r"(?P<value>dnkey-[A-Za-z0-9=_\-]{26}-[A-Za-z0-9=_\-]{52})" + _AFTER,
        ("dnkey-",),
        "dnkey-{u64:26}-{u64:52}",
    ),
    shaped(
        "dynatrace_token",
        "Dynatrace",
        r"(?P<value>dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64})",
        ("dt0c01.",),
        "dt0c01.{up:24}.{up:64}",
    ),
    token("1password_service_token", "1Password", "ops_eyJ", "[A-Za-z0-9+/]{250,}={0,3}", "{b64:300}"),
    shaped(
        "1password_secret_key",
        "1Password",
        r"(?P<value>A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})",
        ("A3-",),
        "A3-{up:6}-{up:11}-{up:5}-{up:5}-{up:5}",
    ),
    # --- chat, mail and messaging --------------------------------------------------------------
    shaped(
        "slack_refresh_token",
        "Slack",
        _BEFORE + r"(?P<value>xoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{100,200})",
        ("xoxe",),
        "xoxe.xoxp-1-{up:150}",
    ),
    shaped(
        "slack_token",
        "Slack",
        _BEFORE + r"(?P<value>xox[bpaors]-[A-Za-z0-9\-]{10,250})",
        ("xox",),
        "xoxb-{dig:12}-{dig:13}-{b62:24}",
    ),
    shaped(
        "slack_app_token",
        "Slack",
        _BEFORE + r"(?P<value>xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)",
        ("xapp-",),
        "xapp-1-A{up:10}-{dig:13}-{hex:64}",
    ),
    shaped(
        "slack_webhook",
        "Slack",
        # Workflow triggers: `triggers/T<team>/<digits>/<32 hex>`.
        r"hooks\.slack\.com/(?:services|workflows|triggers)/"
        r"(?P<value>T[A-Z0-9]+/(?:[AB][A-Z0-9]+|\d{6,})/[A-Za-z0-9]{20,40})",
        ("hooks.slack.com",),
        "https://hooks.slack.com/services/T{up:10}/B{up:10}/{b62:24}",
    ),
    shaped(
        "discord_webhook",
        "Discord",
        r"discord(?:app)?\.com/api/webhooks/(?P<value>\d+/[A-Za-z0-9_\-]{60,68})",
        ("discord",),
        "https://discord.com/api/webhooks/{dig:18}/{u64:68}",
    ),
    keyed(
        "discord_bot_token",
        "Discord",
        "discord",
        r"[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}",
        "MT{b62:24}.{u64:6}.{u64:38}",
        ("discord",),
        4.0,
    ),
    shaped(
        "telegram_bot_token",
        "Telegram",
        r"(?<![0-9])(?P<value>\d{8,10}:AA[A-Za-z0-9_\-]{33})" + _AFTER,
        (":AA",),
        "{dig:10}:AA{u64:33}",
        back=11,
        forward=45,
    ),
    shaped(
        "teams_webhook",
        "Microsoft",
        r"(?P<value>https://[a-z0-9\-]+\.webhook\.office\.com/webhookb2/[a-f0-9\-]{36}@[a-f0-9\-]{36}/IncomingWebhook/[a-f0-9]{32}/[a-f0-9\-]{36})",
        ("webhook.office.com",),
        "https://acme.webhook.office.com/webhookb2/{uuid}@{uuid}/IncomingWebhook/{hex:32}/{uuid}",
        back=40,
        forward=260,
    ),
    shaped(
        "sendgrid_key",
        "SendGrid",
        _BEFORE + r"(?P<value>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})" + _AFTER,
        ("SG.",),
        "SG.{u64:22}.{u64:43}",
    ),
    shaped(
        "twilio_api_key",
        "Twilio",
        _BEFORE + r"(?P<value>SK[0-9a-fA-F]{32})(?![A-Za-z0-9])",
        ("SK",),
        "SK{hex:32}",
        3.0,
    ),
    shaped(
        "twilio_account_sid",
        "Twilio",
        _BEFORE + r"(?P<value>AC[0-9a-f]{32})(?![A-Za-z0-9])",
        ("AC",),
        "AC{hex:32}",
        3.0,
    ),
    keyed(
        "twilio_auth_token",
        "Twilio",
        "twilio|auth_?token",
        _HEX32,
        "{hex:32}",
        ("twilio", "auth_token", "authtoken"),
    ),
    token("mailgun_key", "Mailgun", "key-", _HEX32, "{hex:32}", min_entropy=3.0),
    token("mailgun_pubkey", "Mailgun", "pubkey-", _HEX32, "{hex:32}", min_entropy=3.0),
    keyed(
        "mailgun_signing_key",
        "Mailgun",
        "mailgun",
        "[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8}",
        "{hex:32}-{hex:8}-{hex:8}",
        ("mailgun",),
    ),
    shaped(
        "mailchimp_key",
        "Mailchimp",
        _BEFORE + r"(?P<value>[0-9a-f]{32}-us\d{1,2})(?![0-9A-Za-z])",
        ("-us",),
        "{hex:32}-us21",
        3.0,
        back=33,
        forward=6,
    ),
    keyed("mandrill_key", "Mailchimp", "mandrill", r"md-[A-Za-z0-9_\-]{22}", "md-{u64:22}", ("mandrill",)),
    token("brevo_key", "Brevo", "xkeysib-", "[a-f0-9]{64}-[A-Za-z0-9]{16}", "{hex:64}-{b62:16}"),
    token("brevo_smtp_key", "Brevo", "xsmtpsib-", "[a-f0-9]{64}-[A-Za-z0-9]{16}", "{hex:64}-{b62:16}"),
    keyed("postmark_token", "Postmark", "postmark", _UUID, "{uuid}", ("postmark",)),
    token("resend_key", "Resend", "re_", "[A-Za-z0-9]{8}_[A-Za-z0-9]{24}", "{b62:8}_{b62:24}"),
    keyed("mailjet_key", "Mailjet", "mailjet|mj_apikey", _HEX32, "{hex:32}", ("mailjet", "mj_api")),
    # Firebase's legacy FCM server key: an 11-character instance id, `:APA91b` and 134 more.
    token(
        "fcm_server_key",
        "Firebase",
        "AAAA",
        r"[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{134}",
        "{u64:7}:APA91b{u64:134}",
    ),
    keyed(
        "messagebird_key",
        "MessageBird",
        "message[_\\-]?bird",
        "[A-Za-z0-9]{25}|" + _UUID,
        "{b62:25}",
        ("messagebird", "message_bird", "message-bird"),
    ),
    keyed("vonage_secret", "Vonage", "vonage|nexmo", "[A-Za-z0-9]{16}", "{b62:16}", ("vonage", "nexmo")),
    keyed("plivo_token", "Plivo", "plivo", "[A-Za-z0-9]{40}", "{b62:40}", ("plivo",)),
    keyed(
        "onesignal_key",
        "OneSignal",
        "onesignal",
        "(?:os_v2_app_)?[a-z0-9]{48,120}",
        "{low:48}",
        ("onesignal",),
    ),
    keyed("pusher_secret", "Pusher", "pusher", "[a-f0-9]{20}", "{hex:20}", ("pusher",)),
    keyed(
        "ably_key",
        "Ably",
        "ably",
        r"[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{6}:[A-Za-z0-9_\-]{43}",
        "{b62:6}.{b62:6}:{u64:43}",
        ("ably",),
    ),
    keyed("mattermost_token", "Mattermost", "mattermost", "[a-z0-9]{26}", "{low:26}", ("mattermost",)),
    keyed("intercom_token", "Intercom", "intercom", r"[A-Za-z0-9=_\-]{60}", "dG9rOj{b62:54}", ("intercom",)),
    keyed("zendesk_token", "Zendesk", "zendesk", "[A-Za-z0-9]{40}", "{b62:40}", ("zendesk",)),
    # --- payments and commerce ------------------------------------------------------------------
    shaped(
        "stripe_secret_key",
        "Stripe",
        _BEFORE + r"(?P<value>(?:sk|rk)_(?:live|test|prod)_[0-9A-Za-z]{16,247})" + _AFTER,
        ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk_prod_", "rk_prod_"),
        "sk_live_{b62:99}",
    ),
    token("stripe_webhook_secret", "Stripe", "whsec_", "[A-Za-z0-9+/=]{32,64}", "{b62:32}"),
    token("square_access_token", "Square", "sq0atp-", r"[0-9A-Za-z_\-]{22}", "{u64:22}"),
    token("square_oauth_secret", "Square", "sq0csp-", r"[0-9A-Za-z_\-]{43}", "{u64:43}"),
    token("square_token_v2", "Square", "EAAA", r"[A-Za-z0-9_\-+=]{60}", "{u64:60}", min_entropy=4.0),
    shaped(
        "braintree_token",
        "PayPal",
        r"(?P<value>access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32})",
        ("access_token$",),
        "access_token$production${low:16}${hex:32}",
    ),
    keyed("paypal_secret", "PayPal", "paypal", r"E[A-Za-z0-9_\-]{79}", "E{u64:79}", ("paypal",)),
    token("shopify_access_token", "Shopify", "shpat_", "[a-fA-F0-9]{32}", "{hex:32}"),
    token("shopify_shared_secret", "Shopify", "shpss_", "[a-fA-F0-9]{32}", "{hex:32}"),
    token("shopify_custom_app_token", "Shopify", "shpca_", "[a-fA-F0-9]{32}", "{hex:32}"),
    token("shopify_private_app_token", "Shopify", "shppa_", "[a-fA-F0-9]{32}", "{hex:32}"),
    shaped(
        "plaid_access_token",
        "Plaid",
        r"(?P<value>access-(?:sandbox|development|production)-" + _UUID + ")",
        ("access-",),
        "access-production-{uuid}",
    ),
    # The secret (30) and the client id (24).
    keyed("plaid_secret", "Plaid", "plaid", "[a-z0-9]{30}|[a-z0-9]{24}", "{hex:30}", ("plaid",)),
    shaped(
        "flutterwave_key",
        "Flutterwave",
        r"(?P<value>FLW(?:SECK|PUBK)(?:_TEST)?-[a-h0-9]{32}-X)",
        ("FLWSECK", "FLWPUBK"),
        "FLWSECK_TEST-{hex:32}-X",
    ),
    token("flutterwave_encryption_key", "Flutterwave", "FLWSECK_TEST", "-?[a-h0-9]{12}", "{hex:12}"),
    shaped(
        "duffel_token",
        "Duffel",
        r"(?P<value>duffel_(?:test|live)_[A-Za-z0-9_\-=]{43})",
        ("duffel_",),
        "duffel_live_{u64:43}",
    ),
    token("easypost_key", "EasyPost", "EZAK", "[A-Za-z0-9]{54}", "{b62:54}"),
    token("easypost_test_key", "EasyPost", "EZTK", "[A-Za-z0-9]{54}", "{b62:54}"),
    shaped(
        "shippo_token",
        "Shippo",
        r"(?P<value>shippo_(?:live|test)_[a-f0-9]{40})",
        ("shippo_",),
        "shippo_live_{hex:40}",
    ),
    keyed(
        "gocardless_token",
        "GoCardless",
        "gocardless",
        r"live_[A-Za-z0-9_=\-]{40}",
        "live_{u64:40}",
        ("gocardless",),
    ),
    keyed(
        "lob_key",
        "Lob",
        "lob",
        r"(?:live|test)_(?:pub_[a-f0-9]{31}|[a-f0-9]{35})",
        "live_{hex:35}",
        ("lob_", "lobkey", "lobapi", "lobsecret"),
    ),
    keyed("coinbase_key", "Coinbase", "coinbase", r"[A-Za-z0-9_\-]{64}", "{u64:64}", ("coinbase",)),
    keyed("kraken_key", "Kraken", "kraken", r"[A-Za-z0-9/=_+\-]{80,90}", "{b64:86}==", ("kraken",)),
    keyed("kucoin_key", "KuCoin", "kucoin", "[a-f0-9]{24}|" + _UUID, "{hex:24}", ("kucoin",)),
    keyed("bittrex_key", "Bittrex", "bittrex", "[a-z0-9]{32}", "{low:32}", ("bittrex",)),
    keyed("finicity_secret", "Finicity", "finicity", "[a-z0-9]{20}|" + _HEX32, "{low:20}", ("finicity",)),
    keyed("etsy_key", "Etsy", "etsy", "[a-z0-9]{24}", "{low:24}", ("etsy",)),
    keyed("squarespace_key", "Squarespace", "squarespace", _UUID, "{uuid}", ("squarespace",)),
    keyed("klaviyo_key", "Klaviyo", "klaviyo", "pk_[a-f0-9]{34}", "pk_{hex:34}", ("klaviyo",)),
    keyed("freshbooks_token", "FreshBooks", "freshbooks", "[a-z0-9]{64}", "{low:64}", ("freshbooks",)),
    token("adobe_client_secret", "Adobe", "p8e-", "[A-Za-z0-9]{32}", "{b62:32}", min_entropy=3.5),
    shaped(
        "maxmind_license_key",
        "MaxMind",
        _BEFORE + r"(?P<value>[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk)" + _AFTER,
        ("_mmk",),
        "{b62:6}_{b62:29}_mmk",
        3.5,
        back=37,
        forward=10,
    ),
    # --- web frameworks' signing keys -------------------------------------------------------
    token(
        "django_insecure_secret_key",
        "Django",
        "django-insecure-",
        r"[a-z0-9!@#$%^&*(\-_=+)]{50}",
        "{dj:50}",
        after=r"(?![a-z0-9!@#$%^&*(\-_=+)])",
        min_entropy=4.0,
    ),
    shaped(
        "laravel_app_key",
        "Laravel",
        # `php artisan key:generate` writes base64 of 32 random bytes after `base64:`.
        _BEFORE + r"(?P<value>base64:[A-Za-z0-9+/]{43}=)(?![A-Za-z0-9+/=])",
        ("base64:",),
        "base64:{b64:43}=",
        4.0,
    ),
    keyed(
        "rails_secret_key_base",
        "Rails",
        "secret_?key_?base",
        "[a-f0-9]{128}",
        "{hex:128}",
        ("secret_key_base", "secretkeybase"),
        name="secret_key_base",
    ),
    # --- observability -----------------------------------------------------------------------------
    token("grafana_cloud_token", "Grafana", "glc_", "[A-Za-z0-9+/]{32,400}={0,2}", "{b64:80}"),
    token(
        "grafana_service_account", "Grafana", "glsa_", "[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}", "{b62:32}_{hex:8}"
    ),
    token("grafana_api_key", "Grafana", "eyJrIjoi", "[A-Za-z0-9]{70,400}={0,2}", "{b62:80}"),
    token("newrelic_user_key", "New Relic", "NRAK-", "[A-Z0-9]{27}", "{up:27}"),
    token("newrelic_browser_key", "New Relic", "NRJS-", "[a-f0-9]{19}", "{hex:19}"),
    token("newrelic_insert_key", "New Relic", "NRII-", r"[a-zA-Z0-9_\-]{32}", "{u64:32}"),
    token("newrelic_admin_key", "New Relic", "NRAA-", "[a-f0-9]{27}", "{hex:27}"),
    shaped(
        "newrelic_license_key",
        "New Relic",
        # The ingest license key: 40 characters, the last four `NRAL`.
        _BEFORE + r"(?P<value>[a-fA-F0-9]{36}NRAL)" + _AFTER,
        ("NRAL",),
        "{hex:36}NRAL",
        3.0,
        back=36,
        forward=10,
    ),
    keyed(
        "datadog_api_key",
        "Datadog",
        "datadog|dd_api_key|dd-api-key",
        _HEX32 + "|[a-z0-9]{40}",
        "{hex:32}",
        ("datadog", "dd_api", "dd-api"),
    ),
    keyed(
        "datadog_app_key",
        "Datadog",
        r"dd[_\-]?app(?:lication)?[_\-]?key|datadog_?app",
        "[a-f0-9]{40}",
        "{hex:40}",
        ("ddapp", "dd_app", "dd-app", "datadog"),
    ),
    shaped(
        "sentry_dsn",
        "Sentry",
        r"https?://(?P<value>[0-9a-f]{32})(?::[0-9a-f]{32})?@[a-z0-9.\-]*(?:sentry\.io|ingest\.[a-z0-9.\-]+)/\d+",
        ("://",),
        "https://{hex:32}@o{dig:6}.ingest.sentry.io/{dig:7}",
        back=5,
        forward=200,
        anchor_case=False,
    ),
    token("sentry_org_token", "Sentry", "sntrys_eyJ", "[A-Za-z0-9+/=_]{80,300}", "{b64:150}"),
    token("sentry_user_token", "Sentry", "sntryu_", "[a-f0-9]{64}", "{hex:64}"),
    keyed("sentry_auth_token", "Sentry", "sentry", "[a-f0-9]{64}", "{hex:64}", ("sentry",)),
    keyed(
        "honeycomb_key",
        "Honeycomb",
        "honeycomb",
        "[A-Za-z0-9]{22}|hc[a-z]{2}c_[a-z0-9]{58}",
        "{b62:22}",
        ("honeycomb",),
    ),
    # The access key (64) and the access id (`su` + 12).
    keyed("sumologic_key", "Sumo Logic", "sumo", "[A-Za-z0-9]{64}|su[A-Za-z0-9]{12}", "{b62:64}", ("sumo",)),
    keyed(
        "pagerduty_key",
        "PagerDuty",
        "pagerduty|pager_duty",
        r"u\+[A-Za-z0-9_+\-]{18}",
        "u+{b62:18}",
        ("pagerduty", "pager_duty"),
    ),
    keyed(
        "launchdarkly_key",
        "LaunchDarkly",
        "launchdarkly|launch_darkly",
        r"(?:api|sdk|mob)-" + _UUID + r"|[A-Za-z0-9_\-]{40}",
        "sdk-{uuid}",
        ("launchdarkly", "launch_darkly"),
    ),
    keyed("segment_key", "Segment", "segment", "[A-Za-z0-9]{32}", "{b62:32}", ("segment",), 4.0),
    keyed("mixpanel_secret", "Mixpanel", "mixpanel", _HEX32, "{hex:32}", ("mixpanel",)),
    keyed("codecov_token", "Codecov", "codecov", _UUID + "|[a-z0-9]{32}", "{uuid}", ("codecov",)),
    keyed("snyk_token", "Snyk", "snyk", _UUID, "{uuid}", ("snyk",)),
    keyed("rollbar_token", "Rollbar", "rollbar", _HEX32, "{hex:32}", ("rollbar",)),
    keyed("bugsnag_key", "Bugsnag", "bugsnag", _HEX32, "{hex:32}", ("bugsnag",)),
    keyed("logdna_key", "LogDNA", "logdna|mezmo", _HEX32, "{hex:32}", ("logdna", "mezmo")),
    keyed(
        "elastic_cloud_key",
        "Elastic",
        "elastic_?(?:cloud)?_?api_?key|es_api_key",
        r"[A-Za-z0-9_\-]{20,}={0,2}",
        "{b64:60}==",
        ("elastic", "es_api"),
        name="elastic_api_key",
    ),
    # --- productivity, collaboration and identity ------------------------------------------------
    token("atlassian_api_token", "Atlassian", "ATATT3", r"[A-Za-z0-9_\-=]{186}", "{u64:186}"),
    keyed(
        "atlassian_token",
        "Atlassian",
        "atlassian|jira|confluence",
        "[A-Za-z0-9]{24}",
        "{b62:24}",
        ("atlassian", "jira", "confluence"),
        3.8,
    ),
    token("linear_api_key", "Linear", "lin_api_", "[A-Za-z0-9]{40}", "{b62:40}"),
    token("linear_oauth_token", "Linear", "lin_oauth_", "[a-f0-9]{64}", "{hex:64}"),
    token(
        "notion_integration_secret",
        "Notion",
        "secret_",
        "[A-Za-z0-9]{43}",
        "{b62:43}",
        keywords=("secret_",),
        min_entropy=4.0,
    ),
    token("notion_token", "Notion", "ntn_", "[0-9]{11}[A-Za-z0-9]{35}", "{dig:11}{b62:35}"),
    keyed(
        "asana_token",
        "Asana",
        "asana",
        r"\d/\d{16}(?:/\d{16})?:[a-f0-9]{32}|[0-9]{16}|[a-z0-9]{32}",
        "1/{dig:16}:{hex:32}",
        ("asana",),
        2.5,
    ),
    shaped(
        "dropbox_short_lived_token",
        "Dropbox",
        _BEFORE + r"(?P<value>sl\.[A-Za-z0-9_\-]{130,160})" + _AFTER,
        ("sl.",),
        "sl.{u64:140}",
        4.0,
    ),
    keyed(
        "dropbox_long_lived_token",
        "Dropbox",
        "dropbox",
        r"[a-z0-9]{11}AAAAAAAAAA[a-z0-9_=\-]{43}",
        "{low:11}AAAAAAAAAA{low:43}",
        ("dropbox",),
        2.5,
    ),
    token("figma_pat", "Figma", "figd_", r"[A-Za-z0-9_\-]{40}", "{u64:40}"),
    keyed("figma_token", "Figma", "figma", "[0-9]{6}-" + _UUID, "{dig:6}-{uuid}", ("figma",)),
    keyed("okta_token", "Okta", "okta|ssws", r"00[A-Za-z0-9_\-]{40}", "00{u64:40}", ("okta", "ssws")),
    keyed("auth0_secret", "Auth0", "auth0", r"[A-Za-z0-9_\-]{64}", "{u64:64}", ("auth0",)),
    keyed(
        "trello_token", "Trello", "trello", "[a-zA-Z0-9]{32}|ATTA[a-zA-Z0-9]{60,70}", "{b62:32}", ("trello",)
    ),
    token("airtable_pat", "Airtable", "pat", r"[A-Za-z0-9]{14}\.[a-f0-9]{64}", "{b62:14}.{hex:64}"),
    keyed("airtable_key", "Airtable", "airtable", "[A-Za-z0-9]{17}", "key{b62:14}", ("airtable",)),
    token("hubspot_pat", "HubSpot", "pat-", "(?:na|eu)1-" + _UUID, "na1-{uuid}"),
    keyed("hubspot_key", "HubSpot", "hubspot|hapikey", _UUID, "{uuid}", ("hubspot", "hapikey")),
    token("frameio_token", "Frame.io", "fio-u-", r"[A-Za-z0-9_=\-]{64}", "{u64:64}"),
    keyed("beamer_key", "Beamer", "beamer", r"b_[a-z0-9=_\-]{44}", "b_{low:44}", ("beamer",)),
    keyed(
        "calendly_token",
        "Calendly",
        "calendly",
        r"eyJ[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{20,}",
        "eyJ{u64:30}.{u64:60}.{u64:43}",
        ("calendly",),
    ),
    keyed("typeform_key", "Typeform", "typeform", r"[A-Za-z0-9]{44}", "{b62:44}", ("typeform",)),
    keyed("zoom_secret", "Zoom", "zoom", "[A-Za-z0-9]{32}", "{b62:32}", ("zoom",), 4.0),
    keyed("miro_token", "Miro", "miro", r"eyJtaXJv[A-Za-z0-9_\-]{20,}", "eyJtaXJv{u64:40}", ("miro",)),
    token("clickup_token", "ClickUp", "pk_", "[0-9]{6,10}_[A-Z0-9]{32}", "{dig:8}_{up:32}", min_entropy=3.5),
    keyed(
        "monday_token",
        "monday.com",
        "monday",
        r"eyJ[A-Za-z0-9_\-]{30,}\.[A-Za-z0-9_\-]{30,}\.[A-Za-z0-9_\-]{20,}",
        "eyJ{u64:30}.{u64:60}.{u64:43}",
        ("monday",),
    ),
    # --- CDN, DNS, storage -----------------------------------------------------------------------
    keyed(
        "cloudflare_api_token",
        "Cloudflare",
        "cloudflare|cf_api_token|cf_token",
        r"[A-Za-z0-9_\-]{40}",
        "{u64:40}",
        ("cloudflare", "cf_"),
    ),
    keyed(
        "cloudflare_global_key",
        "Cloudflare",
        "cloudflare|cf_api_key|x-auth-key",
        "[a-f0-9]{37}",
        "{hex:37}",
        ("cloudflare", "cf_", "x-auth-key"),
    ),
    token(
        "cloudflare_origin_ca_key", "Cloudflare", "v1.0-", "[a-f0-9]{24}-[a-f0-9]{146}", "{hex:24}-{hex:146}"
    ),
    keyed("fastly_token", "Fastly", "fastly", r"[A-Za-z0-9_\-]{32}", "{u64:32}", ("fastly",)),
    keyed("bunny_key", "Bunny", "bunny", "[a-f0-9\\-]{72}", "{hex:36}{hex:36}", ("bunny",)),
    keyed(
        "backblaze_key",
        "Backblaze",
        "b2_?(?:application)?_?key|backblaze",
        "K[0-9]{3}[A-Za-z0-9+/]{27}",
        "K005{b62:27}",
        ("b2_", "b2key", "b2app", "backblaze"),
    ),
    keyed("wasabi_secret", "Wasabi", "wasabi", "[A-Za-z0-9]{40}", "{b62:40}", ("wasabi",)),
    keyed(
        "mapbox_secret_token",
        "Mapbox",
        "mapbox",
        # Secret `sk.` tokens, and the public `pk.` ones that scanners also report.
        r"[sp]k\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]{22}|pk\.[a-z0-9]{60}\.[a-z0-9]{22}",
        "sk.eyJ{u64:60}.{u64:22}",
        ("mapbox",),
        2.5,
    ),
    token("mapbox_sk", "Mapbox", "sk.eyJ", r"[A-Za-z0-9_\-]{30,}\.[A-Za-z0-9_\-]{22}", "{u64:60}.{u64:22}"),
    # Public `pk.` tokens: base64 of `{"u":…` (`eyJ1`) after the prefix identifies them alone.
    token("mapbox_pk", "Mapbox", "pk.eyJ1", r"[A-Za-z0-9_\-]{30,}\.[A-Za-z0-9_\-]{22}", "{u64:60}.{u64:22}"),
    # --- social and media ---------------------------------------------------------------------------
    shaped(
        "facebook_access_token",
        "Meta",
        _BEFORE + r"(?P<value>EAA[MC][A-Za-z0-9]{100,})" + _AFTER,
        ("EAA",),
        "EAAC{b62:160}",
        4.0,
    ),
    keyed(
        "facebook_app_secret",
        "Meta",
        "facebook|fb_app_secret|fb_secret",
        _HEX32,
        "{hex:32}",
        ("facebook", "fb_"),
    ),
    shaped(
        "twitter_bearer_token",
        "X",
        r"(?P<value>AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{60,120})",
        ("AAAAAAAAAAAAAAAAAAAAA",),
        "AAAAAAAAAAAAAAAAAAAAA{b62:80}",
    ),
    keyed(
        "twitter_secret",
        "X",
        "twitter|consumer_secret",
        # API secret (50), access secret (45), API key (25), access token (`<user id>-<40>`).
        r"[A-Za-z0-9]{50}|[A-Za-z0-9]{45}|[A-Za-z0-9]{25}|\d{15,25}-[A-Za-z0-9]{20,40}",
        "{b62:50}",
        ("twitter", "consumer_secret"),
    ),
    keyed("twitch_token", "Twitch", "twitch", "[a-z0-9]{30}", "{low:30}", ("twitch",)),
    keyed(
        "linkedin_secret",
        "LinkedIn",
        "linked[_\\-]?in",
        "[A-Za-z0-9]{16}|[A-Za-z0-9]{14}",
        "{b62:16}",
        ("linkedin", "linked_in", "linked-in"),
    ),
    keyed("flickr_key", "Flickr", "flickr", _HEX32, "{hex:32}", ("flickr",)),
    keyed(
        "nytimes_key",
        "NYTimes",
        "nytimes|nyt_api",
        r"[A-Za-z0-9=_\-]{32}",
        "{b62:32}",
        ("nytimes", "nyt_api"),
    ),
    keyed("spotify_secret", "Spotify", "spotify", _HEX32, "{hex:32}", ("spotify",)),
    keyed(
        "rapidapi_key",
        "RapidAPI",
        "rapidapi|x-rapidapi-key",
        r"[A-Za-z0-9_\-]{50}",
        "{b62:50}",
        ("rapidapi",),
    ),
    keyed("algolia_key", "Algolia", "algolia", "[a-z0-9]{32}", "{hex:32}", ("algolia",)),
    # --- CI/CD and dev tools ------------------------------------------------------------------------
    keyed(
        "circleci_token",
        "CircleCI",
        "circle_?(?:ci)?_?token|circleci",
        "[a-f0-9]{40}",
        "{hex:40}",
        ("circle",),
        name="circleci_token",
    ),
    keyed("travis_token", "Travis CI", "travis", "[A-Za-z0-9_\\-]{22}", "{u64:22}", ("travis",)),
    keyed("droneci_token", "Drone", "drone", "[A-Za-z0-9]{32}", "{b62:32}", ("drone",)),
    keyed("jenkins_token", "Jenkins", "jenkins", "[a-f0-9]{34}", "11{hex:32}", ("jenkins",)),
    keyed(
        "bitbucket_secret",
        "Bitbucket",
        "bitbucket",
        r"[A-Za-z0-9=_\-]{64}|[A-Za-z0-9=_\-]{32}",
        "{u64:32}",
        ("bitbucket",),
    ),
    # The secret (64) and the API key (16 upper-case).
    keyed(
        "confluent_secret",
        "Confluent",
        "confluent",
        r"[A-Za-z0-9+/]{64}|[A-Z0-9]{16}",
        "{b64:64}",
        ("confluent",),
    ),
    keyed(
        "adafruit_key",
        "Adafruit",
        "adafruit|aio_key",
        r"aio_[A-Za-z0-9]{28}|[a-z0-9_\-]{32}",
        "aio_{b62:28}",
        ("adafruit", "aio_key"),
    ),
    token(
        "adafruit_io_key",
        "Adafruit",
        "aio_",
        "[A-Za-z]{4}[0-9]{2}[A-Za-z0-9]{22}",
        "{alpha:4}{dig:2}{b62:22}",
    ),
    keyed(
        "sidekiq_secret",
        "Sidekiq",
        "bundle_{0,2}(?:enterprise|gems)_{0,2}contribsys_{0,2}com",
        "[a-f0-9]{8}:[a-f0-9]{8}",
        "{hex:8}:{hex:8}",
        ("bundle",),
        2.5,
        name="BUNDLE_GEMS__CONTRIBSYS__COM",
    ),
    keyed("gitter_token", "Gitter", "gitter", "[a-z0-9_\\-]{40}", "{low:40}", ("gitter",)),
    # Upper-case base36 keys: the generic forms take runs of capitals for words, so these need
    # their service's name.
    keyed("etherscan_api_key", "Etherscan", "etherscan", "[A-Z0-9]{34}", "{up:34}", ("etherscan",)),
    keyed("vultr_api_key", "Vultr", "vultr", "[A-Z0-9]{36}", "{up:36}", ("vultr",)),
    keyed("lokalise_token", "Lokalise", "lokalise", "[a-z0-9]{40}", "{low:40}", ("lokalise",)),
    keyed("mux_secret", "Mux", "mux", "[A-Za-z0-9/+]{75}", "{b64:75}", ("mux",), 4.0),
    keyed(
        "contentstack_token",
        "Contentstack",
        "contentstack",
        "cs[a-f0-9]{32}",
        "cs{hex:32}",
        ("contentstack",),
    ),
    # --- formats the public scanners list that the sections above lacked ---------------------------
    shaped(
        "authress_access_key",
        "Authress",
        # `<prefix>_<account>.<region>.acc_<client id>.<secret>`: the `.acc_` part is fixed.
        _BEFORE + r"(?P<value>(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_\-]"
        r"[A-Za-z0-9\-]{10,32}\.[A-Za-z0-9+/_=\-]{30,120})(?![A-Za-z0-9+/_=\-])",
        (".acc_", ".acc-"),
        "sc_{low:12}.{low:5}.acc_{low:20}.{u64:60}",
        3.5,
        back=50,
        forward=200,
    ),
    token("clickhouse_secret_key", "ClickHouse", "4b1d", "[A-Za-z0-9]{38}", "{b62:38}", min_entropy=4.2),
    shaped(
        "gitlab_session_cookie",
        "GitLab",
        # A cookie header (`_gitlab_session=v`) or a cookie map (`{"_gitlab_session": "v"}`).
        r"_gitlab_session[\"']?[ \t]*[=:][ \t]*[\"']?(?P<value>[0-9a-z]{32})(?![A-Za-z0-9])",
        ("_gitlab_session",),
        "_gitlab_session={low:32}",
        3.0,
    ),
    shaped(
        "intra42_client_secret",
        "42 Intra",
        _BEFORE + r"(?P<value>s-s4t2(?:ud|af)-[a-f0-9]{64})" + _AFTER,
        ("s-s4t2ud-", "s-s4t2af-"),
        "s-s4t2ud-{hex:64}",
        3.0,
    ),
    keyed("adobe_client_id", "Adobe", "adobe", _HEX32, "{hex:32}", ("adobe",)),
    keyed("meraki_key", "Cisco Meraki", "meraki", "[a-f0-9]{40}", "{hex:40}", ("meraki",)),
    keyed("contentful_token", "Contentful", "contentful", r"[A-Za-z0-9_\-]{43}", "{u64:43}", ("contentful",)),
    keyed(
        "discord_client_secret",
        "Discord",
        "discord",
        r"[a-f0-9]{64}|[A-Za-z0-9_\-]{32}",
        "{u64:32}",
        ("discord",),
        name="discord_client_secret",
    ),
    keyed(
        "discord_client_id",
        "Discord",
        # Only under a name that says client/application id: other snowflakes are channel ids.
        r"discord_?(?:client|app(?:lication)?)_?id",
        r"\d{17,19}",
        "{dig:18}",
        ("discord",),
        2.5,
        name="discord_client_id",
    ),
    keyed("dropbox_app_key", "Dropbox", "dropbox", "[a-z0-9]{15}", "{low:15}", ("dropbox",)),
    keyed(
        "facebook_app_token",
        "Meta",
        "facebook|fb_",
        # An app access token: `<app id>|<app secret or signature>`.
        r"\d{15,16}(?:\||%7C)[A-Za-z0-9_\-]{27,40}",
        "{dig:16}|{u64:32}",
        ("facebook", "fb_"),
    ),
    keyed("finnhub_token", "Finnhub", "finnhub", "[a-z0-9]{20}", "{low:20}", ("finnhub",)),
    keyed(
        "jfrog_token",
        "JFrog",
        "jfrog|artifactory|bintray",
        # API key (73) and identity token (64).
        "[A-Za-z0-9]{73}|[A-Za-z0-9]{64}",
        "{b62:73}",
        ("jfrog", "artifactory", "bintray"),
        4.0,
    ),
    keyed("linear_client_secret", "Linear", "linear", _HEX32, "{hex:32}", ("linear",)),
    keyed(
        "newrelic_user_api_id",
        "New Relic",
        "new[_\\-]?relic",
        "[a-z0-9]{64}",
        "{low:64}",
        ("newrelic", "new_relic", "new-relic"),
    ),
    keyed(
        "privateai_key",
        "Private AI",
        "private[_\\-]?ai",
        "[a-z0-9]{32}",
        "{low:32}",
        ("privateai", "private_ai", "private-ai"),
    ),
    keyed("sendbird_token", "Sendbird", "sendbird", "[a-f0-9]{40}|" + _UUID, "{hex:40}", ("sendbird",)),
    keyed(
        "sonar_token",
        "SonarQube",
        r"sonar[_.\-]?(?:login|token)",
        r"[A-Za-z0-9_\-]{40}",
        "{hex:40}",
        ("sonar",),
        name="sonar_token",
    ),
)

# Anchors for ASCII text where a rule's literal prefix is common in ordinary code.
_ANCHOR_PATTERNS = {
    "airtable_pat": r"pat[A-Za-z0-9]{14}\.",
    "harness_pat": r"[ps]at\.[A-Za-z0-9_\-]{22}\.",
    "clickup_token": r"pk_[0-9]{6,10}_",
    "twilio_account_sid": r"AC[0-9a-f]{32}",
    "twilio_api_key": r"SK[0-9a-fA-F]{32}",
    "resend_key": r"re_[A-Za-z0-9]{8}_",
    "sentry_dsn": r"://[0-9a-f]{32}[:@]",
    "dropbox_short_lived_token": r"sl\.[A-Za-z0-9_\-]{130}",
    "yandex_iam_token": r"t1\.[A-Za-z0-9_\-]+=*\.[A-Za-z0-9_\-]{86}",
}
RULES = tuple(
    replace(rule, anchor_pattern=_ANCHOR_PATTERNS[rule.id]) if rule.id in _ANCHOR_PATTERNS else rule
    for rule in RULES
)

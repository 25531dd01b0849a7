"""A fresh, never-tuned-against evaluation set for the secret detector (issue 10).

Why a third set: the rule set and the independent set have both been looked at while the detector
was being fixed, so their figures flatter it. This one is written from public format facts only
(the rule ids and token shapes of gitleaks' default config, vendor token documentation, GitHub's
token checksum), by someone who never read the detector, and it is measured once.

Every token below comes from a generator written here from those facts (prefix, alphabet, length,
checksum); no regex and no test string of any scanner is copied. The contexts are written here too:
one type gets five in-code cases in different syntaxes with the names a developer would use for that
service, and a type whose format alone identifies it (`distinctive`) gets two more cases where it
stands alone under neutral names (an argument, a list item). Negatives are the non-secrets a scanner
meets in code: placeholders, documented examples, template and env references, hashes, git SHAs, SRI
and lockfile integrity, UUIDs, base64 data, long identifiers, minified code, test-word passwords,
GitHub/npm look-alikes with a wrong checksum, and public keys or certificates.

    python bench/secrets_fresh.py [--out tests/core/data/secrets/fresh.jsonl] [--seed 20261201]

Deterministic: the same seed writes the same bytes.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "core" / "data" / "secrets" / "fresh.jsonl"
DEFAULT_SEED = 20261201
CODE_CASES = 5
STANDALONE_CASES = 2

DIG = string.digits
HEX = "0123456789abcdef"
LOW = string.ascii_lowercase
UPP = string.ascii_uppercase
B62 = DIG + UPP + LOW  # GitHub's base62 digit order: 0-9A-Za-z
LAN = DIG + LOW
UAN = DIG + UPP
URLSAFE = B62 + "-_"
B64 = UPP + LOW + DIG + "+/"
PW = B62 + "!#%*+-_.@^~"

Gen = Callable[[random.Random], "str | tuple[str, str]"]


def rs(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def uuid4(rng: random.Random, upper: bool = False) -> str:
    h = rs(rng, HEX, 32)
    h = h[:12] + "4" + h[13:16] + rng.choice("89ab") + h[17:]
    u = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return u.upper() if upper else u


def b62(n: int, width: int = 6) -> str:
    out = ""
    while n:
        n, rem = divmod(n, 62)
        out = B62[rem] + out
    return out.rjust(width, "0")


def gh_checksummed(prefix: str) -> Gen:
    """GitHub (ghp_, gho_, ghu_, ghs_, ghr_) and npm (npm_) tokens: 30 random base62 characters
    followed by the CRC32 of those 30 characters in base62, zero-padded to 6 (GitHub's 2021 token
    format announcement; npm adopted the same shape)."""

    def gen(rng: random.Random) -> str:
        body = rs(rng, B62, 30)
        return prefix + body + b62(zlib.crc32(body.encode()))

    return gen


def b64json(obj: object, urlsafe: bool = False, pad: bool = True) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    enc = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    text = enc.decode()
    return text if pad else text.rstrip("=")


def rand_b64(rng: random.Random, nbytes: int, urlsafe: bool = False, pad: bool = True) -> str:
    raw = bytes(rng.randrange(256) for _ in range(nbytes))
    enc = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    text = enc.decode()
    return text if pad else text.rstrip("=")


def fixed(prefix: str, alphabet: str, n: int, suffix: str = "") -> Gen:
    return lambda rng: prefix + rs(rng, alphabet, n) + suffix


# --- per-format generators that need more than prefix + random run ------------------------------


def onepassword_secret_key(rng: random.Random) -> str:
    return "A3-" + "-".join(rs(rng, UAN, n) for n in (6, 6, 5, 5, 5, 5))


def onepassword_sa_token(rng: random.Random) -> str:
    payload = {
        "signInAddress": f"{rs(rng, LOW, 7)}.1password.com",
        "userAuth": {
            "method": "SRPg-4096",
            "alg": "PBES2g-HS256",
            "iterations": 650000,
            "salt": rand_b64(rng, 16, True, False),
        },
        "email": f"{rs(rng, LAN, 14)}@1passwordserviceaccounts.com",
        "srpX": rs(rng, HEX, 64),
        "muk": {
            "alg": "A256GCM",
            "ext": True,
            "k": rand_b64(rng, 32, True, False),
            "key_ops": ["encrypt", "decrypt"],
            "kty": "oct",
            "kid": "mp",
        },
        "secretKey": onepassword_secret_key(rng),
        "deviceUuid": rs(rng, LAN, 26),
    }
    return "ops_" + b64json(payload, pad=False)


def atlassian_token(rng: random.Random) -> str:
    return "ATATT3xFfGF0" + rs(rng, URLSAFE, 171) + "=" + rs(rng, "0123456789ABCDEF", 8)


def authress_key(rng: random.Random) -> str:
    return f"sc_{rs(rng, LAN, 12)}.{rs(rng, LAN, 4)}.acc_{rs(rng, LAN, 20)}.{rand_b64(rng, 48, True, False)}"


def aws_key_id(rng: random.Random) -> str:
    return rng.choice(["AKIA", "AKIA", "ASIA"]) + rs(rng, UPP + "234567", 16)


def azure_ad_secret(rng: random.Random) -> str:
    return rs(rng, B62, 3) + rng.choice(DIG) + "Q~" + rs(rng, B62 + "_~.-", 34)


def cf_origin_ca(rng: random.Random) -> str:
    return f"v1.0-{rs(rng, HEX, 24)}-{rs(rng, HEX, 146)}"


def dropbox_long(rng: random.Random) -> str:
    return rs(rng, B62, 11) + "AAAAAAAAAA" + rs(rng, URLSAFE, 43)


def dynatrace(rng: random.Random) -> str:
    return f"dt0c01.{rs(rng, UAN, 24)}.{rs(rng, UAN, 64)}"


def facebook_app_token(rng: random.Random) -> str:
    return rs(rng, DIG, 15) + "|" + rs(rng, URLSAFE, 27)


def flyio(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "fo1_" + rs(rng, URLSAFE, 43)
    return "fm2_" + rand_b64(rng, 180)


def freemius_sk(rng: random.Random) -> str:
    return "sk_" + rs(rng, B62 + "!#%&()*+,-.:;<=>?@[]^_{}~", 29)


def github_fine_grained(rng: random.Random) -> str:
    return f"github_pat_{rs(rng, UAN, 22)}_{rs(rng, B62, 59)}"


def gitlab_routable(prefix: str) -> Gen:
    def gen(rng: random.Random) -> str:
        return f"{prefix}{rs(rng, URLSAFE, 36)}.{rs(rng, LAN, 2)}{rs(rng, LAN, 7)}"

    return gen


def gitlab_session(rng: random.Random) -> tuple[str, str]:
    value = rs(rng, LAN, 32)
    return f"_gitlab_session={value}", value


def grafana_api_key(rng: random.Random) -> str:
    return b64json(
        {
            "k": rs(rng, B62, 32),
            "n": rng.choice(["ci-deploy", "alerts", "provisioner"]),
            "id": rng.randrange(1, 40),
        }
    )


def grafana_cloud(rng: random.Random) -> str:
    payload = {
        "o": str(rng.randrange(100000, 999999)),
        "n": "stack-" + rs(rng, DIG, 6) + "-hm-read",
        "k": rs(rng, B62, 24),
        "m": {"r": rng.choice(["us", "eu", "prod-us-east-0"])},
    }
    return "glc_" + b64json(payload)


def harness(rng: random.Random) -> str:
    return f"{rng.choice(['pat', 'sat'])}.{rs(rng, URLSAFE, 22)}.{rs(rng, B62, 24)}.{rs(rng, B62, 20)}"


def tf_cloud(rng: random.Random) -> str:
    return f"{rs(rng, B62, 14)}.atlasv1.{rs(rng, URLSAFE, 67)}"


def jwt(rng: random.Random) -> str:
    header = b64json({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}, True, False)
    payload = b64json(
        {
            "sub": str(rng.randrange(10**6, 10**7)),
            "name": rng.choice(["svc-sync", "ops"]),
            "iat": rng.randrange(1_600_000_000, 1_750_000_000),
            "scope": rng.choice(["read write", "admin"]),
        },
        True,
        False,
    )
    return f"{header}.{payload}.{rand_b64(rng, 32, True, False)}"


def jwt_b64(rng: random.Random) -> str:
    return base64.b64encode(jwt(rng).encode()).decode()


def intercom(rng: random.Random) -> str:
    return base64.b64encode(f"tok:{uuid4(rng)}:1:0".encode()).decode()


def launchdarkly(rng: random.Random) -> str:
    return "api-" + uuid4(rng)


def mailchimp(rng: random.Random) -> str:
    return rs(rng, HEX, 32) + f"-us{rng.randrange(1, 21)}"


def mailgun_signing(rng: random.Random) -> str:
    return f"{rs(rng, HEX, 32)}-{rs(rng, HEX, 8)}-{rs(rng, HEX, 8)}"


def mapbox(rng: random.Random) -> str:
    head = b64json(
        {"u": rng.choice(["geo-team", "acme-maps", "fleetview"]), "a": "cl" + rs(rng, LAN, 23)}, pad=False
    )
    return f"pk.{head}.{rs(rng, URLSAFE, 22)}"


def teams_webhook(rng: random.Random) -> tuple[str, str]:
    key = rs(rng, HEX, 32)
    url = (
        f"https://{rng.choice(['acme', 'contoso', 'fabrikam'])}.webhook.office.com/webhookb2/"
        f"{uuid4(rng)}@{uuid4(rng)}/IncomingWebhook/{key}/{uuid4(rng)}"
    )
    return url, key


def notion(rng: random.Random) -> str:
    return "ntn_" + rs(rng, DIG, 11) + rs(rng, B62, 35)


def openai(rng: random.Random) -> str:
    if rng.random() < 0.7:
        kind = rng.choice(["proj", "proj", "svcacct", "admin"])
        return f"sk-{kind}-{rs(rng, URLSAFE, 74)}T3BlbkFJ{rs(rng, URLSAFE, 74)}"
    return f"sk-{rs(rng, B62, 20)}T3BlbkFJ{rs(rng, B62, 20)}"


def plaid_access(rng: random.Random) -> str:
    return f"access-{rng.choice(['sandbox', 'development', 'production'])}-{uuid4(rng)}"


def pypi(rng: random.Random) -> str:
    return "pypi-AgEIcHlwaS5vcmc" + rand_b64(rng, 130, True, False)


def sentry_org(rng: random.Random) -> str:
    org = rng.choice(["acme", "blue-fin", "northwind"])
    payload = {
        "iat": rng.randrange(1_700_000_000, 1_760_000_000),
        "url": "https://sentry.io",
        "region_url": "https://us.sentry.io",
        "org": org,
    }
    return "sntrys_" + b64json(payload, pad=False) + "_" + rand_b64(rng, 32, False, False)


def sidekiq_cred(rng: random.Random) -> str:
    return f"{rs(rng, HEX, 8)}:{rs(rng, HEX, 8)}"


def sidekiq_url(rng: random.Random) -> tuple[str, str]:
    cred = sidekiq_cred(rng)
    return f"https://{cred}@{rng.choice(['gems', 'enterprise'])}.contribsys.com/", cred


def slack_app(rng: random.Random) -> str:
    return f"xapp-1-A{rs(rng, UAN, 10)}-{rs(rng, DIG, 13)}-{rs(rng, HEX, 64)}"


def slack_bot(rng: random.Random) -> str:
    return f"xoxb-{rs(rng, DIG, 12)}-{rs(rng, DIG, 13)}-{rs(rng, B62, 24)}"


def slack_legacy_bot(rng: random.Random) -> str:
    return f"xoxb-{rs(rng, DIG, 11)}-{rs(rng, B62, 24)}"


def slack_user(rng: random.Random) -> str:
    return f"xoxp-{rs(rng, DIG, 12)}-{rs(rng, DIG, 12)}-{rs(rng, DIG, 13)}-{rs(rng, HEX, 32)}"


def slack_legacy(rng: random.Random) -> str:
    return f"xoxs-{rs(rng, DIG, 10)}-{rs(rng, DIG, 11)}-{rs(rng, DIG, 12)}-{rs(rng, HEX, 64)}"


def slack_workspace(rng: random.Random) -> str:
    return f"{rng.choice(['xoxa', 'xoxr'])}-2-{rs(rng, B62, 40)}"


def slack_webhook(rng: random.Random) -> tuple[str, str]:
    last = rs(rng, B62, 24)
    return f"https://hooks.slack.com/services/T{rs(rng, UAN, 8)}/B{rs(rng, UAN, 10)}/{last}", last


def sonar(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(["squ_", "sqp_", "sqa_"]) + rs(rng, HEX, 40)
    return rs(rng, HEX, 40)


def sourcegraph(rng: random.Random) -> str:
    return f"sgp_{rs(rng, HEX, 16)}_{rs(rng, HEX, 40)}"


def square(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "EAAA" + rs(rng, URLSAFE, 60)
    return "sq0atp-" + rs(rng, URLSAFE, 22)


def stripe(rng: random.Random) -> str:
    return f"{rng.choice(['sk', 'sk', 'rk'])}_{rng.choice(['live', 'test'])}_{rs(rng, B62, 99)}"


def telegram(rng: random.Random) -> str:
    return f"{rs(rng, DIG, 10)}:AA{rs(rng, URLSAFE, 33)}"


def twitter_access(rng: random.Random) -> str:
    return f"{rs(rng, DIG, 19)}-{rs(rng, B62, 31)}"


def twitter_bearer(rng: random.Random) -> str:
    return "A" * 22 + rs(rng, B62, 40) + "%3D" + rs(rng, B62, 50)


def vault_service(rng: random.Random) -> str:
    return "hvs." + rs(rng, URLSAFE, 94)


def yandex_iam(rng: random.Random) -> str:
    return f"t1.{rs(rng, URLSAFE, 60)}.{rs(rng, URLSAFE, 86)}"


def kraken(rng: random.Random) -> str:
    return rand_b64(rng, 64)


def secret_password(rng: random.Random) -> str:
    return (
        rs(rng, B62, 6)
        + rng.choice("!#%*+-_.@^~")
        + rs(rng, B62, 7)
        + rng.choice("!#%*-_.")
        + rs(rng, DIG, 2)
    )


def tf_password(rng: random.Random) -> str:
    return rs(rng, B62, 7) + rng.choice("=_-") + rs(rng, B62, 8)


def private_key_body(rng: random.Random, nbytes: int) -> list[str]:
    text = base64.b64encode(b"\x30\x82" + bytes(rng.randrange(256) for _ in range(nbytes))).decode()
    return [text[i : i + 64] for i in range(0, len(text), 64)]


def private_key(rng: random.Random) -> tuple[str, str]:
    label = rng.choice(
        ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]
    )
    lines = private_key_body(rng, 300 if "EC" in label else 900)
    pem = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"
    return pem, lines[2][8:56]


# --- the type table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Type:
    """One credential type: gitleaks rule id, service, the words of the name a developer would give
    it, its generator, whether its format alone identifies it, and the public fact used."""

    id: str
    service: str
    stem: tuple[str, ...]
    gen: Gen
    distinctive: bool
    fact: str
    special: str = ""  # a context family of its own (curl, k8s, nuget, tf, php, pem)


def T(tid: str, service: str, stem: str, gen: Gen, distinctive: bool, fact: str, special: str = "") -> Type:
    return Type(tid, service, tuple(stem.split()), gen, distinctive, fact, special)


TYPES: list[Type] = [
    T(
        "1password-secret-key",
        "1Password",
        "op secret key",
        onepassword_secret_key,
        True,
        "A3- then 6-char account id and five groups of uppercase base36",
    ),
    T(
        "1password-service-account-token",
        "1Password",
        "op service account token",
        onepassword_sa_token,
        True,
        "ops_ then base64 JSON (eyJ...), hundreds of chars",
    ),
    T(
        "adafruit-api-key",
        "Adafruit IO",
        "adafruit io key",
        fixed("", LAN + "_-", 32),
        False,
        "32 chars [a-z0-9_-] next to an adafruit name",
    ),
    T(
        "adobe-client-id",
        "Adobe",
        "adobe client id",
        fixed("", HEX, 32),
        False,
        "32 hex next to an adobe name",
    ),
    T(
        "adobe-client-secret",
        "Adobe",
        "adobe client secret",
        fixed("p8e-", B62, 32),
        True,
        "p8e- then 32 alnum",
    ),
    T(
        "age-secret-key",
        "age",
        "age identity",
        fixed("AGE-SECRET-KEY-1", "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
        True,
        "AGE-SECRET-KEY-1 then 58 bech32 chars (age spec)",
    ),
    T(
        "airtable-api-key",
        "Airtable",
        "airtable api key",
        fixed("key", B62, 14),
        False,
        "legacy key + 14 alnum (17 chars) next to an airtable name",
    ),
    T(
        "algolia-api-key",
        "Algolia",
        "algolia admin api key",
        fixed("", HEX, 32),
        False,
        "32 hex next to an algolia name",
    ),
    T(
        "alibaba-access-key-id",
        "Alibaba Cloud",
        "alibaba access key id",
        fixed("LTAI", B62, 20),
        True,
        "LTAI then 20 alnum",
    ),
    T(
        "alibaba-secret-key",
        "Alibaba Cloud",
        "alibaba access key secret",
        fixed("", B62, 30),
        False,
        "30 alnum next to an alibaba name",
    ),
    T(
        "anthropic-admin-api-key",
        "Anthropic",
        "anthropic admin key",
        fixed("sk-ant-admin01-", URLSAFE, 93, "AA"),
        True,
        "sk-ant-admin01- then 93 base64url chars then AA",
    ),
    T(
        "anthropic-api-key",
        "Anthropic",
        "anthropic api key",
        fixed("sk-ant-api03-", URLSAFE, 93, "AA"),
        True,
        "sk-ant-api03- then 93 base64url chars then AA",
    ),
    T(
        "artifactory-api-key",
        "JFrog Artifactory",
        "artifactory api key",
        fixed("AKCp", B62, 69),
        True,
        "AKCp then 69 alnum",
    ),
    T(
        "artifactory-reference-token",
        "JFrog Artifactory",
        "artifactory reference token",
        fixed("cmVmd", B62, 59),
        True,
        "cmVmd (base64 'ref') then 59 alnum",
    ),
    T(
        "asana-client-id",
        "Asana",
        "asana client id",
        fixed("", DIG, 16),
        False,
        "16 digits next to an asana name",
    ),
    T(
        "asana-client-secret",
        "Asana",
        "asana client secret",
        fixed("", LAN, 32),
        False,
        "32 alnum next to an asana name",
    ),
    T(
        "atlassian-api-token",
        "Atlassian",
        "jira api token",
        atlassian_token,
        True,
        "ATATT3 then 186 base64url chars ending =CRC (Atlassian API token format)",
    ),
    T(
        "authress-service-client-access-key",
        "Authress",
        "authress access key",
        authress_key,
        True,
        "sc_<id>.<4>.acc_<id>.<base64> service client key",
    ),
    T("aws-access-token", "AWS", "aws access key id", aws_key_id, True, "AKIA/ASIA then 16 base32 [A-Z2-7]"),
    T(
        "azure-ad-client-secret",
        "Microsoft Entra ID",
        "azure client secret",
        azure_ad_secret,
        True,
        "3 chars, a digit, Q~, then 34 chars (Entra ID client secret)",
    ),
    T(
        "beamer-api-token",
        "Beamer",
        "beamer api key",
        fixed("b_", LAN + "=_-", 44),
        False,
        "b_ then 44 chars next to a beamer name",
    ),
    T(
        "bitbucket-client-id",
        "Bitbucket",
        "bitbucket client id",
        fixed("", B62, 32),
        False,
        "32 alnum next to a bitbucket name",
    ),
    T(
        "bitbucket-client-secret",
        "Bitbucket",
        "bitbucket client secret",
        fixed("", B62 + "_-", 64),
        False,
        "64 chars next to a bitbucket name",
    ),
    T(
        "bittrex-access-key",
        "Bittrex",
        "bittrex api key",
        fixed("", HEX, 32),
        False,
        "32 alnum next to a bittrex name",
    ),
    T(
        "bittrex-secret-key",
        "Bittrex",
        "bittrex api secret",
        fixed("", HEX, 32),
        False,
        "32 alnum next to a bittrex name",
    ),
    T(
        "cisco-meraki-api-key",
        "Cisco Meraki",
        "meraki dashboard api key",
        fixed("", HEX, 40),
        False,
        "40 hex next to a meraki name",
    ),
    T(
        "clickhouse-cloud-api-secret-key",
        "ClickHouse Cloud",
        "clickhouse key secret",
        fixed("4b1d", B62, 38),
        True,
        "4b1d then 38 alnum",
    ),
    T(
        "clojars-api-token",
        "Clojars",
        "clojars deploy token",
        fixed("CLOJARS_", LAN, 60),
        True,
        "CLOJARS_ then 60 alnum",
    ),
    T(
        "cloudflare-api-key",
        "Cloudflare",
        "cloudflare api token",
        fixed("", URLSAFE, 40),
        False,
        "40 chars next to a cloudflare name",
    ),
    T(
        "cloudflare-global-api-key",
        "Cloudflare",
        "cloudflare global api key",
        fixed("", HEX, 37),
        False,
        "37 hex next to a cloudflare name",
    ),
    T(
        "cloudflare-origin-ca-key",
        "Cloudflare",
        "cloudflare origin ca key",
        cf_origin_ca,
        True,
        "v1.0- then 24 hex - 146 hex",
    ),
    T(
        "codecov-access-token",
        "Codecov",
        "codecov token",
        fixed("", LAN, 32),
        False,
        "32 alnum next to a codecov name",
    ),
    T(
        "cohere-api-token",
        "Cohere",
        "cohere api key",
        fixed("", B62, 40),
        False,
        "40 alnum next to a cohere name",
    ),
    T(
        "coinbase-access-token",
        "Coinbase",
        "coinbase api secret",
        fixed("", URLSAFE, 64),
        False,
        "64 chars next to a coinbase name",
    ),
    T(
        "confluent-access-token",
        "Confluent",
        "confluent api key",
        fixed("", UAN, 16),
        False,
        "16 alnum next to a confluent name",
    ),
    T(
        "confluent-secret-key",
        "Confluent",
        "confluent api secret",
        fixed("", B62, 64),
        False,
        "64 alnum next to a confluent name",
    ),
    T(
        "contentful-delivery-api-token",
        "Contentful",
        "contentful delivery token",
        fixed("", URLSAFE, 43),
        False,
        "43 chars next to a contentful name",
    ),
    T(
        "curl-auth-header",
        "curl",
        "",
        fixed("", URLSAFE, 40),
        False,
        "bearer/api-key header value in a curl command",
        special="curl-header",
    ),
    T(
        "curl-auth-user",
        "curl",
        "",
        secret_password,
        False,
        "user:password after curl -u",
        special="curl-user",
    ),
    T("database-password", "database", "db password", secret_password, False, "value of a db_password name"),
    T(
        "databricks-api-token",
        "Databricks",
        "databricks token",
        fixed("dapi", HEX, 32),
        True,
        "dapi then 32 hex",
    ),
    T(
        "datadog-access-token",
        "Datadog",
        "datadog app key",
        fixed("", HEX, 40),
        False,
        "40 alnum next to a datadog name",
    ),
    T(
        "defined-networking-api-token",
        "Defined Networking",
        "dnkey api",
        lambda rng: f"dnkey-{rs(rng, UAN, 26)}-{rs(rng, UAN, 52)}",
        True,
        "dnkey- then 26 - 52 chars",
    ),
    T(
        "digitalocean-access-token",
        "DigitalOcean",
        "do oauth access",
        fixed("doo_v1_", HEX, 64),
        True,
        "doo_v1_ then 64 hex",
    ),
    T(
        "digitalocean-pat",
        "DigitalOcean",
        "digitalocean token",
        fixed("dop_v1_", HEX, 64),
        True,
        "dop_v1_ then 64 hex",
    ),
    T(
        "digitalocean-refresh-token",
        "DigitalOcean",
        "do refresh token",
        fixed("dor_v1_", HEX, 64),
        True,
        "dor_v1_ then 64 hex",
    ),
    T(
        "discord-api-token",
        "Discord",
        "discord public key",
        fixed("", HEX, 64),
        False,
        "64 hex next to a discord name",
    ),
    T(
        "discord-client-id",
        "Discord",
        "discord client id",
        fixed("", DIG, 18),
        False,
        "18 digits next to a discord name",
    ),
    T(
        "discord-client-secret",
        "Discord",
        "discord client secret",
        fixed("", URLSAFE, 32),
        False,
        "32 chars next to a discord name",
    ),
    T(
        "doppler-api-token",
        "Doppler",
        "doppler token",
        fixed("dp.pt.", B62, 43),
        True,
        "dp.pt. then 43 alnum",
    ),
    T(
        "droneci-access-token",
        "Drone CI",
        "droneci token",
        fixed("", B62, 32),
        False,
        "32 alnum next to a droneci name",
    ),
    T(
        "dropbox-api-token",
        "Dropbox",
        "dropbox app secret",
        fixed("", LAN, 15),
        False,
        "15 alnum next to a dropbox name",
    ),
    T(
        "dropbox-long-lived-api-token",
        "Dropbox",
        "dropbox access token",
        dropbox_long,
        False,
        "11 chars, AAAAAAAAAA, 43 chars, next to a dropbox name",
    ),
    T(
        "dropbox-short-lived-api-token",
        "Dropbox",
        "dropbox access token",
        fixed("sl.", URLSAFE, 135),
        False,
        "sl. then 135 chars next to a dropbox name",
    ),
    T(
        "duffel-api-token",
        "Duffel",
        "duffel access token",
        lambda rng: f"duffel_{rng.choice(['test', 'live'])}_{rs(rng, URLSAFE, 43)}",
        True,
        "duffel_test_/duffel_live_ then 43 chars",
    ),
    T("dynatrace-api-token", "Dynatrace", "dynatrace api token", dynatrace, True, "dt0c01.<24>.<64>"),
    T(
        "easypost-api-token",
        "EasyPost",
        "easypost api key",
        fixed("EZAK", B62, 54),
        True,
        "EZAK then 54 alnum",
    ),
    T(
        "easypost-test-api-token",
        "EasyPost",
        "easypost test api key",
        fixed("EZTK", B62, 54),
        True,
        "EZTK then 54 alnum",
    ),
    T(
        "etsy-access-token",
        "Etsy",
        "etsy keystring",
        fixed("", LAN, 24),
        False,
        "24 alnum next to an etsy name",
    ),
    T(
        "facebook-access-token",
        "Facebook",
        "facebook app token",
        facebook_app_token,
        False,
        "app id | app secret, next to a facebook name",
    ),
    T(
        "facebook-page-access-token",
        "Facebook",
        "fb page access token",
        lambda rng: rng.choice(["EAAM", "EAAC"]) + rs(rng, B62, 160),
        True,
        "EAAM/EAAC then 100+ alnum",
    ),
    T(
        "facebook-secret",
        "Facebook",
        "facebook app secret",
        fixed("", HEX, 32),
        False,
        "32 hex next to a facebook name",
    ),
    T(
        "fastly-api-token",
        "Fastly",
        "fastly api token",
        fixed("", URLSAFE, 32),
        False,
        "32 chars next to a fastly name",
    ),
    T(
        "finicity-api-token",
        "Finicity",
        "finicity app key",
        fixed("", HEX, 32),
        False,
        "32 hex next to a finicity name",
    ),
    T(
        "finicity-client-secret",
        "Finicity",
        "finicity partner secret",
        fixed("", B62, 20),
        False,
        "20 alnum next to a finicity name",
    ),
    T(
        "finnhub-access-token",
        "Finnhub",
        "finnhub api key",
        fixed("", LAN, 20),
        False,
        "20 alnum next to a finnhub name",
    ),
    T(
        "flickr-access-token",
        "Flickr",
        "flickr api key",
        fixed("", HEX, 32),
        False,
        "32 alnum next to a flickr name",
    ),
    T(
        "flutterwave-encryption-key",
        "Flutterwave",
        "flw encryption key",
        fixed("FLWSECK_TEST-", HEX[:8] + DIG, 12),
        True,
        "FLWSECK_TEST- then 12 [a-h0-9]",
    ),
    T(
        "flutterwave-public-key",
        "Flutterwave",
        "flw public key",
        fixed("FLWPUBK_TEST-", HEX, 32, "-X"),
        True,
        "FLWPUBK_TEST- then 32 hex then -X",
    ),
    T(
        "flutterwave-secret-key",
        "Flutterwave",
        "flw secret key",
        fixed("FLWSECK_TEST-", HEX, 32, "-X"),
        True,
        "FLWSECK_TEST- then 32 hex then -X",
    ),
    T("flyio-access-token", "Fly.io", "fly api token", flyio, True, "fo1_ + 43 chars or fm2_ + long base64"),
    T(
        "frameio-api-token",
        "Frame.io",
        "frameio token",
        fixed("fio-u-", URLSAFE, 64),
        True,
        "fio-u- then 64 chars",
    ),
    T(
        "freemius-secret-key",
        "Freemius",
        "",
        freemius_sk,
        False,
        "'secret_key' => 'sk_' + 29 chars in PHP",
        special="php-freemius",
    ),
    T(
        "freshbooks-access-token",
        "FreshBooks",
        "freshbooks access token",
        fixed("", HEX, 64),
        False,
        "64 alnum next to a freshbooks name",
    ),
    T(
        "gcp-api-key",
        "Google Cloud",
        "google maps api key",
        fixed("AIza", URLSAFE, 35),
        True,
        "AIza then 35 base64url chars",
    ),
    T(
        "generic-api-key",
        "generic",
        "",
        fixed("", B62, 32),
        False,
        "high-entropy value of an api_key/secret/token/password name",
    ),
    T(
        "github-app-token",
        "GitHub",
        "github app token",
        lambda rng: gh_checksummed(rng.choice(["ghu_", "ghs_"]))(rng),
        True,
        "ghu_/ghs_ + 30 base62 + base62 CRC32 (6)",
    ),
    T(
        "github-fine-grained-pat",
        "GitHub",
        "github token",
        github_fine_grained,
        True,
        "github_pat_ + 22 + _ + 59",
    ),
    T(
        "github-oauth",
        "GitHub",
        "github oauth token",
        gh_checksummed("gho_"),
        True,
        "gho_ + 30 base62 + base62 CRC32",
    ),
    T(
        "github-pat",
        "GitHub",
        "github token",
        gh_checksummed("ghp_"),
        True,
        "ghp_ + 30 base62 + base62 CRC32",
    ),
    T(
        "github-refresh-token",
        "GitHub",
        "github refresh token",
        gh_checksummed("ghr_"),
        True,
        "ghr_ + 30 base62 + base62 CRC32",
    ),
    T(
        "gitlab-cicd-job-token",
        "GitLab",
        "ci job token",
        lambda rng: f"glcbt-{rs(rng, B62, 2)}_{rs(rng, URLSAFE, 20)}",
        True,
        "glcbt-<id>_ then 20 chars",
    ),
    T(
        "gitlab-deploy-token",
        "GitLab",
        "gitlab deploy token",
        fixed("gldt-", URLSAFE, 20),
        True,
        "gldt- then 20",
    ),
    T(
        "gitlab-feature-flag-client-token",
        "GitLab",
        "unleash instance id",
        fixed("glffct-", URLSAFE, 20),
        True,
        "glffct- then 20",
    ),
    T("gitlab-feed-token", "GitLab", "gitlab feed token", fixed("glft-", URLSAFE, 20), True, "glft- then 20"),
    T(
        "gitlab-incoming-mail-token",
        "GitLab",
        "incoming email token",
        fixed("glimt-", URLSAFE, 25),
        True,
        "glimt- then 25",
    ),
    T(
        "gitlab-kubernetes-agent-token",
        "GitLab",
        "gitlab agent token",
        fixed("glagent-", URLSAFE, 50),
        True,
        "glagent- then 50",
    ),
    T(
        "gitlab-oauth-app-secret",
        "GitLab",
        "gitlab oauth secret",
        fixed("gloas-", URLSAFE, 64),
        True,
        "gloas- then 64",
    ),
    T("gitlab-pat", "GitLab", "gitlab token", fixed("glpat-", URLSAFE, 20), True, "glpat- then 20"),
    T(
        "gitlab-pat-routable",
        "GitLab",
        "gitlab token",
        gitlab_routable("glpat-"),
        True,
        "glpat- then 27+ chars . 2+7 base36 (routable)",
    ),
    T("gitlab-ptt", "GitLab", "gitlab trigger token", fixed("glptt-", HEX, 40), True, "glptt- then 40 hex"),
    T(
        "gitlab-rrt",
        "GitLab",
        "runner registration token",
        fixed("GR1348941", URLSAFE, 20),
        True,
        "GR1348941 then 20",
    ),
    T(
        "gitlab-runner-authentication-token",
        "GitLab",
        "runner token",
        fixed("glrt-", URLSAFE, 20),
        True,
        "glrt- then 20",
    ),
    T(
        "gitlab-runner-authentication-token-routable",
        "GitLab",
        "runner token",
        gitlab_routable("glrt-t1_"),
        True,
        "glrt-t1_ then 27+ . 9 base36",
    ),
    T("gitlab-scim-token", "GitLab", "scim token", fixed("glsoat-", URLSAFE, 20), True, "glsoat- then 20"),
    T(
        "gitlab-session-cookie",
        "GitLab",
        "gitlab cookie",
        gitlab_session,
        True,
        "_gitlab_session= then 32 [0-9a-z]",
    ),
    T(
        "gitter-access-token",
        "Gitter",
        "gitter token",
        fixed("", LAN, 40),
        False,
        "40 chars next to a gitter name",
    ),
    T(
        "gocardless-api-token",
        "GoCardless",
        "gocardless access token",
        fixed("live_", URLSAFE, 40),
        False,
        "live_ then 40 chars next to a gocardless name",
    ),
    T(
        "grafana-api-key",
        "Grafana",
        "grafana api key",
        grafana_api_key,
        True,
        'base64 of {"k":...} so it starts eyJrIjoi',
    ),
    T(
        "grafana-cloud-api-token",
        "Grafana Cloud",
        "grafana cloud token",
        grafana_cloud,
        True,
        "glc_ then base64 JSON",
    ),
    T(
        "grafana-service-account-token",
        "Grafana",
        "grafana sa token",
        lambda rng: f"glsa_{rs(rng, B62, 32)}_{rs(rng, HEX, 8)}",
        True,
        "glsa_ + 32 alnum + _ + 8 hex",
    ),
    T("harness-api-key", "Harness", "harness api key", harness, True, "pat./sat. + 22 . 24 . 20"),
    T(
        "hashicorp-tf-api-token",
        "Terraform Cloud",
        "tfe token",
        tf_cloud,
        True,
        "14 chars .atlasv1. then 60-70",
    ),
    T(
        "hashicorp-tf-password",
        "Terraform",
        "",
        tf_password,
        False,
        "password attribute in .tf/.hcl",
        special="tf-password",
    ),
    T("heroku-api-key", "Heroku", "heroku api key", uuid4, False, "UUID next to a heroku name"),
    T(
        "heroku-api-key-v2",
        "Heroku",
        "heroku api key",
        fixed("HRKU-AA", URLSAFE, 58),
        True,
        "HRKU-AA then 58",
    ),
    T(
        "hubspot-api-key",
        "HubSpot",
        "hubspot api key",
        lambda rng: uuid4(rng, upper=rng.random() < 0.5),
        False,
        "UUID next to a hubspot name",
    ),
    T(
        "huggingface-access-token",
        "Hugging Face",
        "hf token",
        fixed("hf_", UPP + LOW, 34),
        True,
        "hf_ then 34 letters",
    ),
    T(
        "huggingface-organization-api-token",
        "Hugging Face",
        "hf org token",
        fixed("api_org_", UPP + LOW, 34),
        True,
        "api_org_ then 34 letters",
    ),
    T(
        "infracost-api-token",
        "Infracost",
        "infracost api key",
        fixed("ico-", B62, 32),
        True,
        "ico- then 32 alnum",
    ),
    T(
        "intercom-api-key",
        "Intercom",
        "intercom access token",
        intercom,
        False,
        "base64 of tok:<uuid>:1:0 next to an intercom name",
    ),
    T(
        "intra42-client-secret",
        "42 Intra",
        "intra client secret",
        lambda rng: f"s-s4t2{rng.choice(['ud', 'af'])}-{rs(rng, HEX, 64)}",
        True,
        "s-s4t2ud-/s-s4t2af- then 64 hex",
    ),
    T("jfrog-api-key", "JFrog", "jfrog api key", fixed("", B62, 73), False, "73 alnum next to a jfrog name"),
    T(
        "jfrog-identity-token",
        "JFrog",
        "jfrog identity token",
        fixed("", B62, 64),
        False,
        "64 alnum next to a jfrog name",
    ),
    T("jwt", "JWT", "session jwt", jwt, True, "three base64url parts, header and payload start eyJ"),
    T("jwt-base64", "JWT", "encoded jwt", jwt_b64, True, "standard base64 of a JWT (starts ZXlK)"),
    T(
        "kraken-access-token",
        "Kraken",
        "kraken private key",
        kraken,
        False,
        "base64 of 64 bytes (88 chars) next to a kraken name",
    ),
    T(
        "kubernetes-secret-yaml",
        "Kubernetes",
        "",
        lambda rng: base64.b64encode(secret_password(rng).encode()).decode(),
        False,
        "base64 value under data: of kind: Secret",
        special="k8s",
    ),
    T(
        "kucoin-access-token",
        "KuCoin",
        "kucoin api key",
        fixed("", HEX, 24),
        False,
        "24 hex next to a kucoin name",
    ),
    T("kucoin-secret-key", "KuCoin", "kucoin api secret", uuid4, False, "UUID next to a kucoin name"),
    T(
        "launchdarkly-access-token",
        "LaunchDarkly",
        "launchdarkly access token",
        launchdarkly,
        False,
        "api-<uuid> (40 chars) next to a launchdarkly name",
    ),
    T(
        "linear-api-key",
        "Linear",
        "linear api key",
        fixed("lin_api_", B62, 40),
        True,
        "lin_api_ then 40 alnum",
    ),
    T(
        "linear-client-secret",
        "Linear",
        "linear client secret",
        fixed("", HEX, 32),
        False,
        "32 hex next to a linear name",
    ),
    T(
        "linkedin-client-id",
        "LinkedIn",
        "linkedin client id",
        fixed("", LAN, 14),
        False,
        "14 alnum next to a linkedin name",
    ),
    T(
        "linkedin-client-secret",
        "LinkedIn",
        "linkedin client secret",
        fixed("", B62, 16),
        False,
        "16 alnum next to a linkedin name",
    ),
    T(
        "lob-api-key",
        "Lob",
        "lob api key",
        lambda rng: f"{rng.choice(['live', 'test'])}_{rs(rng, HEX, 35)}",
        False,
        "live_/test_ then 35 hex next to a lob name",
    ),
    T(
        "lob-pub-api-key",
        "Lob",
        "lob publishable key",
        lambda rng: f"{rng.choice(['live', 'test'])}_pub_{rs(rng, HEX, 31)}",
        False,
        "live_pub_/test_pub_ then 31 hex next to a lob name",
    ),
    T(
        "mailchimp-api-key",
        "Mailchimp",
        "mailchimp api key",
        mailchimp,
        False,
        "32 hex -usNN next to a mailchimp name",
    ),
    T(
        "mailgun-private-api-token",
        "Mailgun",
        "mailgun api key",
        fixed("key-", HEX, 32),
        False,
        "key- then 32 hex next to a mailgun name",
    ),
    T(
        "mailgun-pub-key",
        "Mailgun",
        "mailgun public key",
        fixed("pubkey-", HEX, 32),
        False,
        "pubkey- then 32 hex next to a mailgun name",
    ),
    T(
        "mailgun-signing-key",
        "Mailgun",
        "mailgun webhook signing key",
        mailgun_signing,
        False,
        "32-8-8 hex next to a mailgun name",
    ),
    T(
        "mapbox-api-token",
        "Mapbox",
        "mapbox access token",
        mapbox,
        True,
        'pk. + base64 JSON {"u":..} + . + 22',
    ),
    T(
        "mattermost-access-token",
        "Mattermost",
        "mattermost token",
        fixed("", LAN, 26),
        False,
        "26 alnum next to a mattermost name",
    ),
    T(
        "maxmind-license-key",
        "MaxMind",
        "maxmind license key",
        lambda rng: f"{rs(rng, B62, 6)}_{rs(rng, B62, 29)}_mmk",
        True,
        "6 _ 29 _mmk",
    ),
    T(
        "messagebird-api-token",
        "MessageBird",
        "messagebird access key",
        fixed("", B62, 25),
        False,
        "25 alnum next to a messagebird name",
    ),
    T(
        "messagebird-client-id",
        "MessageBird",
        "messagebird client id",
        uuid4,
        False,
        "UUID next to a messagebird name",
    ),
    T(
        "microsoft-teams-webhook",
        "Microsoft Teams",
        "teams webhook url",
        teams_webhook,
        True,
        "https://<t>.webhook.office.com/webhookb2/<uuid>@<uuid>/IncomingWebhook/<32>/<uuid>",
    ),
    T(
        "netlify-access-token",
        "Netlify",
        "netlify auth token",
        fixed("", URLSAFE, 43),
        False,
        "40-46 chars next to a netlify name",
    ),
    T(
        "new-relic-browser-api-token",
        "New Relic",
        "newrelic browser key",
        fixed("NRJS-", HEX, 19),
        True,
        "NRJS- then 19 hex",
    ),
    T(
        "new-relic-insert-key",
        "New Relic",
        "newrelic insert key",
        fixed("NRII-", URLSAFE[:-1], 32),
        True,
        "NRII- then 32",
    ),
    T(
        "new-relic-user-api-id",
        "New Relic",
        "newrelic user api id",
        fixed("", LAN, 64),
        False,
        "64 alnum next to a newrelic name",
    ),
    T(
        "new-relic-user-api-key",
        "New Relic",
        "newrelic api key",
        fixed("NRAK-", UAN, 27),
        True,
        "NRAK- then 27 uppercase alnum",
    ),
    T("notion-api-token", "Notion", "notion token", notion, True, "ntn_ + 11 digits + 35 alnum"),
    T(
        "npm-access-token",
        "npm",
        "npm token",
        gh_checksummed("npm_"),
        True,
        "npm_ + 30 base62 + base62 CRC32",
    ),
    T(
        "nuget-config-password",
        "NuGet",
        "",
        secret_password,
        False,
        "ClearTextPassword value in nuget.config",
        special="nuget",
    ),
    T(
        "nytimes-access-token",
        "New York Times",
        "nytimes api key",
        fixed("", B62, 32),
        False,
        "32 chars next to an nytimes name",
    ),
    T(
        "octopus-deploy-api-key",
        "Octopus Deploy",
        "octopus api key",
        fixed("API-", UAN, 26),
        True,
        "API- then 26 uppercase alnum",
    ),
    T(
        "okta-access-token",
        "Okta",
        "okta api token",
        fixed("00", URLSAFE, 40),
        False,
        "00 then 40 chars next to an okta name",
    ),
    T(
        "openai-api-key",
        "OpenAI",
        "openai api key",
        openai,
        True,
        "sk-(proj|svcacct|admin)- ... T3BlbkFJ ...",
    ),
    T(
        "openshift-user-token",
        "OpenShift",
        "openshift token",
        fixed("sha256~", URLSAFE, 43),
        True,
        "sha256~ then 43 base64url",
    ),
    T(
        "perplexity-api-key",
        "Perplexity",
        "perplexity api key",
        fixed("pplx-", B62, 48),
        True,
        "pplx- then 48 alnum",
    ),
    T("plaid-api-token", "Plaid", "plaid access token", plaid_access, True, "access-<env>-<uuid>"),
    T(
        "plaid-client-id",
        "Plaid",
        "plaid client id",
        fixed("", HEX, 24),
        False,
        "24 alnum next to a plaid name",
    ),
    T(
        "plaid-secret-key",
        "Plaid",
        "plaid secret",
        fixed("", HEX, 30),
        False,
        "30 alnum next to a plaid name",
    ),
    T(
        "planetscale-api-token",
        "PlanetScale",
        "planetscale service token",
        fixed("pscale_tkn_", URLSAFE, 43),
        True,
        "pscale_tkn_ then 32-64",
    ),
    T(
        "planetscale-oauth-token",
        "PlanetScale",
        "planetscale oauth token",
        fixed("pscale_oauth_", URLSAFE, 43),
        True,
        "pscale_oauth_ then 32-64",
    ),
    T(
        "planetscale-password",
        "PlanetScale",
        "planetscale db password",
        fixed("pscale_pw_", URLSAFE, 43),
        True,
        "pscale_pw_ then 32-64",
    ),
    T(
        "postman-api-token",
        "Postman",
        "postman api key",
        lambda rng: f"PMAK-{rs(rng, HEX, 24)}-{rs(rng, HEX, 34)}",
        True,
        "PMAK-<24 hex>-<34 hex>",
    ),
    T("prefect-api-token", "Prefect", "prefect api key", fixed("pnu_", B62, 36), True, "pnu_ then 36 alnum"),
    T("private-key", "PEM", "", private_key, True, "-----BEGIN ... PRIVATE KEY----- block", special="pem"),
    T(
        "privateai-api-token",
        "Private AI",
        "private ai api key",
        fixed("", LAN, 32),
        False,
        "32 alnum next to a private_ai name",
    ),
    T("pulumi-api-token", "Pulumi", "pulumi access token", fixed("pul-", HEX, 40), True, "pul- then 40 hex"),
    T("pypi-upload-token", "PyPI", "pypi token", pypi, True, "pypi-AgEIcHlwaS5vcmc then macaroon base64url"),
    T(
        "rapidapi-access-token",
        "RapidAPI",
        "rapidapi key",
        fixed("", URLSAFE, 50),
        False,
        "50 chars next to a rapidapi name",
    ),
    T(
        "readme-api-token",
        "ReadMe",
        "readme api key",
        fixed("rdme_", LAN, 70),
        True,
        "rdme_ then 70 [a-z0-9]",
    ),
    T(
        "rubygems-api-token",
        "RubyGems",
        "gem host api key",
        fixed("rubygems_", HEX, 48),
        True,
        "rubygems_ then 48 hex",
    ),
    T(
        "scalingo-api-token",
        "Scalingo",
        "scalingo api token",
        fixed("tk-us-", URLSAFE, 48),
        True,
        "tk-us- then 48",
    ),
    T(
        "sendbird-access-id",
        "Sendbird",
        "sendbird app id",
        lambda rng: uuid4(rng, upper=True),
        False,
        "UUID next to a sendbird name",
    ),
    T(
        "sendbird-access-token",
        "Sendbird",
        "sendbird api token",
        fixed("", HEX, 40),
        False,
        "40 hex next to a sendbird name",
    ),
    T(
        "sendgrid-api-token",
        "SendGrid",
        "sendgrid api key",
        lambda rng: f"SG.{rs(rng, URLSAFE, 22)}.{rs(rng, URLSAFE, 43)}",
        True,
        "SG.<22>.<43>",
    ),
    T(
        "sendinblue-api-token",
        "Brevo",
        "brevo api key",
        lambda rng: f"xkeysib-{rs(rng, HEX, 64)}-{rs(rng, B62, 16)}",
        True,
        "xkeysib-<64 hex>-<16>",
    ),
    T(
        "sentry-access-token",
        "Sentry",
        "sentry auth token",
        fixed("", HEX, 64),
        False,
        "64 hex next to a sentry name",
    ),
    T(
        "sentry-org-token",
        "Sentry",
        "sentry auth token",
        sentry_org,
        True,
        "sntrys_ + base64 JSON {iat, url, region_url, org} + _ + 43",
    ),
    T(
        "sentry-user-token",
        "Sentry",
        "sentry auth token",
        fixed("sntryu_", HEX, 64),
        True,
        "sntryu_ then 64 hex",
    ),
    T(
        "settlemint-application-access-token",
        "SettleMint",
        "settlemint app token",
        fixed("sm_aat_", B62, 16),
        True,
        "sm_aat_ then 16",
    ),
    T(
        "settlemint-personal-access-token",
        "SettleMint",
        "settlemint pat",
        fixed("sm_pat_", B62, 16),
        True,
        "sm_pat_ then 16",
    ),
    T(
        "settlemint-service-access-token",
        "SettleMint",
        "settlemint service token",
        fixed("sm_sat_", B62, 16),
        True,
        "sm_sat_ then 16",
    ),
    T(
        "shippo-api-token",
        "Shippo",
        "shippo api token",
        lambda rng: f"shippo_{rng.choice(['live', 'test'])}_{rs(rng, HEX, 40)}",
        True,
        "shippo_live_/test_ + 40 hex",
    ),
    T(
        "shopify-access-token",
        "Shopify",
        "shopify access token",
        fixed("shpat_", HEX, 32),
        True,
        "shpat_ + 32 hex",
    ),
    T(
        "shopify-custom-access-token",
        "Shopify",
        "shopify custom app token",
        fixed("shpca_", HEX, 32),
        True,
        "shpca_ + 32 hex",
    ),
    T(
        "shopify-private-app-access-token",
        "Shopify",
        "shopify private app password",
        fixed("shppa_", HEX, 32),
        True,
        "shppa_ + 32 hex",
    ),
    T(
        "shopify-shared-secret",
        "Shopify",
        "shopify shared secret",
        fixed("shpss_", HEX, 32),
        True,
        "shpss_ + 32 hex",
    ),
    T(
        "sidekiq-secret",
        "Sidekiq",
        "",
        sidekiq_cred,
        False,
        "8hex:8hex in BUNDLE_ENTERPRISE__CONTRIBSYS__COM",
        special="bundler",
    ),
    T(
        "sidekiq-sensitive-url",
        "Sidekiq",
        "sidekiq source",
        sidekiq_url,
        True,
        "https://8hex:8hex@gems.contribsys.com/",
    ),
    T("slack-app-token", "Slack", "slack app token", slack_app, True, "xapp-1-A...-digits-64 hex"),
    T("slack-bot-token", "Slack", "slack bot token", slack_bot, True, "xoxb-digits-digits-24 alnum"),
    T(
        "slack-config-access-token",
        "Slack",
        "slack config token",
        lambda rng: f"xoxe.xox{rng.choice('bp')}-1-{rs(rng, UAN, 164)}",
        True,
        "xoxe.xoxp-1- then ~164",
    ),
    T(
        "slack-config-refresh-token",
        "Slack",
        "slack refresh token",
        fixed("xoxe-1-", UAN, 146),
        True,
        "xoxe-1- then 146",
    ),
    T("slack-legacy-bot-token", "Slack", "slack bot token", slack_legacy_bot, True, "xoxb-digits-24 alnum"),
    T("slack-legacy-token", "Slack", "slack token", slack_legacy, True, "xoxs-d-d-d-hex"),
    T(
        "slack-legacy-workspace-token",
        "Slack",
        "slack workspace token",
        slack_workspace,
        True,
        "xoxa-2-/xoxr- then alnum",
    ),
    T("slack-user-token", "Slack", "slack user token", slack_user, True, "xoxp-d-d-d-32 hex"),
    T(
        "slack-webhook-url",
        "Slack",
        "slack webhook url",
        slack_webhook,
        True,
        "https://hooks.slack.com/services/T../B../24",
    ),
    T("snyk-api-token", "Snyk", "snyk token", uuid4, False, "UUID next to a snyk_token name"),
    T(
        "sonar-api-token",
        "SonarQube",
        "sonar token",
        sonar,
        False,
        "40 hex (or squ_/sqp_ + 40) next to sonar_token",
    ),
    T(
        "sourcegraph-access-token",
        "Sourcegraph",
        "sourcegraph token",
        sourcegraph,
        True,
        "sgp_<16 hex>_<40 hex>",
    ),
    T("square-access-token", "Square", "square access token", square, True, "EAAA + 60 or sq0atp- + 22"),
    T(
        "squarespace-access-token",
        "Squarespace",
        "squarespace api key",
        uuid4,
        False,
        "UUID next to a squarespace name",
    ),
    T("stripe-access-token", "Stripe", "stripe secret key", stripe, True, "sk_/rk_ live/test + alnum"),
    T(
        "sumologic-access-id",
        "Sumo Logic",
        "sumo access id",
        fixed("su", B62, 12),
        False,
        "su + 12 alnum next to a sumo name",
    ),
    T(
        "sumologic-access-token",
        "Sumo Logic",
        "sumo access key",
        fixed("", B62, 64),
        False,
        "64 alnum next to a sumo name",
    ),
    T(
        "telegram-bot-api-token",
        "Telegram",
        "telegram bot token",
        telegram,
        False,
        "digits:AA + 33 next to a telegram name",
    ),
    T(
        "travisci-access-token",
        "Travis CI",
        "travis api token",
        fixed("", B62, 22),
        False,
        "22 alnum next to a travis name",
    ),
    T("twilio-api-key", "Twilio", "twilio api key", fixed("SK", HEX, 32), True, "SK then 32 hex"),
    T(
        "twitch-api-token",
        "Twitch",
        "twitch client secret",
        fixed("", LAN, 30),
        False,
        "30 alnum next to a twitch name",
    ),
    T(
        "twitter-access-secret",
        "Twitter",
        "twitter access token secret",
        fixed("", B62, 45),
        False,
        "45 alnum next to a twitter name",
    ),
    T(
        "twitter-access-token",
        "Twitter",
        "twitter access token",
        twitter_access,
        False,
        "digits-alnum next to a twitter name",
    ),
    T(
        "twitter-api-key",
        "Twitter",
        "twitter consumer key",
        fixed("", B62, 25),
        False,
        "25 alnum next to a twitter name",
    ),
    T(
        "twitter-api-secret",
        "Twitter",
        "twitter consumer secret",
        fixed("", B62, 50),
        False,
        "50 alnum next to a twitter name",
    ),
    T(
        "twitter-bearer-token",
        "Twitter",
        "twitter bearer token",
        twitter_bearer,
        True,
        "22 A then URL-encoded base64",
    ),
    T("typeform-api-token", "Typeform", "typeform token", fixed("tfp_", URLSAFE, 59), True, "tfp_ then 59"),
    T(
        "vault-batch-token",
        "HashiCorp Vault",
        "vault token",
        fixed("hvb.", URLSAFE, 150),
        True,
        "hvb. then 138+",
    ),
    T("vault-service-token", "HashiCorp Vault", "vault token", vault_service, True, "hvs. then 90-120"),
    T(
        "yandex-access-token",
        "Yandex",
        "yandex iam token",
        yandex_iam,
        False,
        "t1.<..>.<86> next to a yandex name",
    ),
    T(
        "yandex-api-key",
        "Yandex",
        "yandex api key",
        fixed("AQVN", URLSAFE, 36),
        False,
        "AQVN + 35-38 next to a yandex name",
    ),
    T(
        "yandex-aws-access-token",
        "Yandex",
        "yandex static key",
        fixed("YC", URLSAFE, 38),
        False,
        "YC + 38 next to a yandex name",
    ),
    T(
        "zendesk-secret-key",
        "Zendesk",
        "zendesk api token",
        fixed("", B62, 40),
        False,
        "40 alnum next to a zendesk name",
    ),
]

GENERIC_STEMS = [
    ("api", "key"),
    ("secret", "key"),
    ("auth", "token"),
    ("access", "token"),
    ("client", "secret"),
    ("service", "password"),
    ("app", "secret"),
    ("private", "token"),
]

# --- names ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    words: tuple[str, ...]

    @property
    def upper(self) -> str:
        return "_".join(w.upper() for w in self.words)

    @property
    def snake(self) -> str:
        return "_".join(self.words)

    @property
    def camel(self) -> str:
        return self.words[0] + "".join(w.capitalize() for w in self.words[1:])

    @property
    def pascal(self) -> str:
        return "".join(w.capitalize() for w in self.words)

    @property
    def kebab(self) -> str:
        return "-".join(self.words)

    @property
    def dotted(self) -> str:
        return ".".join(self.words)


# --- in-code contexts: (syntax, template(names, value, rng) -> text) --------------------------------

Ctx = Callable[[Names, str, random.Random], str]


def pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


def py_module(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"import os\nimport logging\n\nlog = logging.getLogger(__name__)\n"
        f'{n.upper} = "{v}"\nTIMEOUT_S = {rng.randrange(5, 60)}\n'
    )


def py_settings(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"class Settings:\n    debug = False\n    {n.snake} = '{v}'\n"
        f'    region = "{pick(rng, "eu-west-1", "us-east-2", "ap-south-1")}"\n'
    )


def py_dict(n: Names, v: str, rng: random.Random) -> str:
    return (
        f'CONFIG = {{\n    "endpoint": "https://{pick(rng, "api", "edge", "ingest")}.example.net",\n'
        f'    "{n.snake}": "{v}",\n    "retries": 3,\n}}\n'
    )


def js_const(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"import axios from 'axios';\n\nconst {n.camel} = '{v}';\n"
        f"export const client = axios.create({{ timeout: {rng.randrange(1, 9)}000 }});\n"
    )


def js_object(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"module.exports = {{\n  env: '{pick(rng, 'production', 'staging')}',\n  {n.camel}: \"{v}\",\n"
        f"  port: {rng.randrange(3000, 9000)},\n}};\n"
    )


def ts_class(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"export class {pick(rng, 'Billing', 'Sync', 'Notify')}Service {{\n"
        f'  private readonly {n.camel}: string = "{v}";\n  constructor(private http: HttpClient) {{}}\n}}\n'
    )


def go_const(n: Names, v: str, rng: random.Random) -> str:
    return f'package config\n\nconst (\n\t{n.camel} = "{v}"\n\tmaxRetries = {rng.randrange(2, 9)}\n)\n'


def go_setenv(n: Names, v: str, rng: random.Random) -> str:
    return f'func init() {{\n\tos.Setenv("{n.upper}", "{v}")\n}}\n'


def java_field(n: Names, v: str, rng: random.Random) -> str:
    return (
        f'public final class AppConfig {{\n    private static final String {n.upper} = "{v}";\n'
        f"    private static final int POOL_SIZE = {rng.randrange(4, 32)};\n}}\n"
    )


def java_props(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"spring.application.name={pick(rng, 'orders', 'ledger', 'gateway')}\n"
        f"app.{n.kebab}={v}\nserver.port=8080\n"
    )


def csharp_const(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"namespace Acme.Integrations\n{{\n    internal static class Secrets\n    {{\n"
        f'        public const string {n.pascal} = "{v}";\n    }}\n}}\n'
    )


def csharp_appsettings(n: Names, v: str, rng: random.Random) -> str:
    return (
        f'{{\n  "Logging": {{ "LogLevel": {{ "Default": "Information" }} }},\n'
        f'  "{pick(rng, "Integrations", "External")}": {{\n    "{n.pascal}": "{v}"\n  }}\n}}\n'
    )


def ruby_config(n: Names, v: str, rng: random.Random) -> str:
    return (
        f'Rails.application.configure do\n  config.x.{n.snake} = "{v}"\n'
        f"  config.cache_store = :memory_store\nend\n"
    )


def ruby_env(n: Names, v: str, rng: random.Random) -> str:
    return f"ENV[\"{n.upper}\"] ||= '{v}'\nrequire_relative 'boot'\n"


def php_define(n: Names, v: str, rng: random.Random) -> str:
    return f"<?php\n// {pick(rng, 'production', 'local')} settings\ndefine('{n.upper}', '{v}');\n"


def php_array(n: Names, v: str, rng: random.Random) -> str:
    return f"<?php\n\nreturn [\n    'debug' => false,\n    '{n.snake}' => \"{v}\",\n];\n"


def rust_const(n: Names, v: str, rng: random.Random) -> str:
    return (
        f'use std::time::Duration;\n\npub const {n.upper}: &str = "{v}";\n'
        f"pub const TIMEOUT: Duration = Duration::from_secs(30);\n"
    )


def kotlin_val(n: Names, v: str, rng: random.Random) -> str:
    return f'object BuildConfig {{\n    const val {n.upper} = "{v}"\n    val debug = false\n}}\n'


def swift_let(n: Names, v: str, rng: random.Random) -> str:
    return f'import Foundation\n\nenum Keys {{\n    static let {n.camel} = "{v}"\n}}\n'


def shell_export(n: Names, v: str, rng: random.Random) -> str:
    return (
        f'#!/usr/bin/env bash\nset -euo pipefail\nexport {n.upper}="{v}"\n'
        f"./bin/{pick(rng, 'deploy', 'sync', 'release')}.sh\n"
    )


def dockerfile(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"FROM python:3.{rng.randrange(9, 13)}-slim\nWORKDIR /app\n"
        f'{pick(rng, "ENV", "ARG")} {n.upper}={v}\nCOPY . .\nCMD ["python", "main.py"]\n'
    )


def gha_yaml(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"name: deploy\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    env:\n"
        f"      {n.upper}: {v}\n    steps:\n      - uses: actions/checkout@v4\n"
    )


def k8s_env(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"    spec:\n      containers:\n        - name: {pick(rng, 'api', 'worker')}\n"
        f"          image: registry.local/app:1.{rng.randrange(0, 20)}\n          env:\n"
        f'            - name: {n.upper}\n              value: "{v}"\n'
    )


def compose(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"services:\n  {pick(rng, 'web', 'app', 'worker')}:\n    build: .\n    environment:\n"
        f"      - {n.upper}={v}\n      - LOG_LEVEL=info\n"
    )


def dotenv(n: Names, v: str, rng: random.Random) -> str:
    return f"NODE_ENV=production\nPORT={rng.randrange(3000, 9000)}\n{n.upper}={v}\n"


def json_cfg(n: Names, v: str, rng: random.Random) -> str:
    return (
        json.dumps(
            {"name": pick(rng, "dashboard", "importer"), "settings": {n.camel: v, "verbose": False}}, indent=2
        )
        + "\n"
    )


def toml_cfg(n: Names, v: str, rng: random.Random) -> str:
    return f'[{pick(rng, "integrations", "service", "tool.deploy")}]\nenabled = true\n{n.snake} = "{v}"\n'


def ini_cfg(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"[{pick(rng, 'default', 'production', 'remote')}]\nhost = 10.0.0.{rng.randrange(2, 250)}\n"
        f"{n.snake} = {v}\n"
    )


def xml_cfg(n: Names, v: str, rng: random.Random) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n'
        f'    <add key="{n.pascal}" value="{v}" />\n  </appSettings>\n</configuration>\n'
    )


def terraform(n: Names, v: str, rng: random.Random) -> str:
    return f'variable "{n.snake}" {{\n  type      = string\n  sensitive = true\n  default   = "{v}"\n}}\n'


def sql(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"-- seed integration settings\nINSERT INTO app_settings (name, value) VALUES\n"
        f"  ('{n.snake}', '{v}'),\n  ('timeout', '30');\n"
    )


def markdown(n: Names, v: str, rng: random.Random) -> str:
    return (
        f"## Setup\n\nSet the credential before running the sync:\n\n```bash\nexport {n.upper}={v}\n"
        f"make sync\n```\n"
    )


def jupyter(n: Names, v: str, rng: random.Random) -> str:
    cell = {
        "cell_type": "code",
        "execution_count": rng.randrange(1, 30),
        "metadata": {},
        "outputs": [],
        "source": ["import requests\n", f'{n.snake} = "{v}"\n', "resp = requests.get(URL)\n"],
    }
    return json.dumps({"cells": [cell], "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


CODE_CONTEXTS: dict[str, list[Ctx]] = {
    "python": [py_module, py_settings, py_dict],
    "javascript": [js_const, js_object],
    "typescript": [ts_class],
    "go": [go_const, go_setenv],
    "java": [java_field],
    "properties": [java_props],
    "csharp": [csharp_const],
    "json": [json_cfg, csharp_appsettings],
    "ruby": [ruby_config, ruby_env],
    "php": [php_define, php_array],
    "rust": [rust_const],
    "kotlin": [kotlin_val],
    "swift": [swift_let],
    "shell": [shell_export],
    "dockerfile": [dockerfile],
    "yaml-ci": [gha_yaml],
    "yaml-k8s": [k8s_env],
    "yaml-compose": [compose],
    "dotenv": [dotenv],
    "toml": [toml_cfg],
    "ini": [ini_cfg],
    "xml": [xml_cfg],
    "terraform": [terraform],
    "sql": [sql],
    "markdown": [markdown],
    "jupyter": [jupyter],
}

# --- standalone contexts: neutral names, the value alone ---------------------------------------------

Std = Callable[[str, random.Random], str]

STANDALONE: list[tuple[str, Std]] = [
    ("python", lambda v, rng: f'client = Client()\nclient.configure("{v}")\n'),
    (
        "python",
        lambda v, rng: f'VALUES = [\n    "{v}",\n    "{pick(rng, "staging", "fallback", "eu")}",\n]\n',
    ),
    ("javascript", lambda v, rng: f"await sdk.init('{v}', {{ region: 'eu' }});\n"),
    ("javascript", lambda v, rng: f"const entries = ['{v}', 'default'];\n"),
    ("go", lambda v, rng: f'c := remote.New("{v}")\ndefer c.Close()\n'),
    ("java", lambda v, rng: f'Service svc = Service.create("{v}");\n'),
    ("shell", lambda v, rng: f'./bin/run --region eu-west-1 "{v}"\n'),
    ("yaml", lambda v, rng: f"items:\n  - {v}\n  - other\n"),
    ("json", lambda v, rng: json.dumps({"args": ["--verbose", v]}) + "\n"),
    ("ruby", lambda v, rng: f'conn = Remote::Client.new("{v}")\n'),
    ("csharp", lambda v, rng: f'var conn = new RemoteClient("{v}");\n'),
    ("rust", lambda v, rng: f'let conn = Remote::new("{v}");\n'),
]

# --- special families ---------------------------------------------------------------------------------

Special = Callable[[str, random.Random], list[tuple[str, str]]]


def curl_header_cases(v: str, rng: random.Random) -> list[tuple[str, str]]:
    host = pick(rng, "api.acme.io", "billing.internal", "example-svc.net")
    return [
        ("shell", f'curl -sS -H "Authorization: Bearer {v}" https://{host}/v1/orders\n'),
        ("markdown", f'```bash\ncurl https://{host}/v2/items \\\n  --header "X-Api-Key: {v}"\n```\n'),
        ("dockerfile", f"RUN curl -fsSL -H 'Authorization: Token {v}' https://{host}/pkg.tgz | tar xz\n"),
        (
            "yaml-ci",
            f'steps:\n  - run: |\n      curl -X POST -H "Authorization: Bearer {v}" https://{host}/deploy\n',
        ),
        ("makefile", f'notify:\n\tcurl -s -H "X-Auth-Token: {v}" -d @payload.json https://{host}/hooks\n'),
    ]


def curl_user_cases(v: str, rng: random.Random) -> list[tuple[str, str]]:
    user = pick(rng, "deploy", "ci-bot", "admin", "svc_sync")
    host = pick(rng, "nexus.acme.io", "registry.internal", "artifacts.example.org")
    return [
        ("shell", f"curl -u {user}:{v} https://{host}/service/rest/v1/status\n"),
        ("shell", f'curl --user "{user}:{v}" -T build.zip https://{host}/upload/\n'),
        ("markdown", f"```sh\ncurl -fsS -u '{user}:{v}' https://{host}/api/\n```\n"),
        ("dockerfile", f"RUN curl -sSL -u {user}:{v} https://{host}/tools.tar.gz -o /tmp/t.tgz\n"),
        ("yaml-ci", f"script:\n  - curl --fail --user {user}:{v} https://{host}/publish -F file=@dist.whl\n"),
    ]


def k8s_cases(v: str, rng: random.Random) -> list[tuple[str, str]]:
    key = pick(rng, "password", "db-password", "api-token", "client-secret")
    name = pick(rng, "app-credentials", "db-auth", "worker-secrets")
    return [
        (
            "yaml-k8s",
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\ndata:\n  {key}: {v}\n",
        ),
        (
            "yaml-k8s",
            f"apiVersion: v1\ndata:\n  username: YWRtaW4=\n  {key}: {v}\nkind: Secret\nmetadata:\n"
            f"  name: {name}\n",
        ),
        (
            "yaml-k8s",
            f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: prod\ndata:\n"
            f'  {key}: "{v}"\n',
        ),
        (
            "yaml-k8s",
            f"apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata:\n"
            f"      name: {name}\n    data:\n      {key}: {v}\n",
        ),
        (
            "yaml-k8s",
            f"kind: Secret\napiVersion: v1\nmetadata:\n  name: {name}\n  labels:\n    app: web\n"
            f"type: Opaque\ndata:\n  .dockerconfigjson: {v}\n",
        ),
    ]


def nuget_cases(v: str, rng: random.Random) -> list[tuple[str, str]]:
    src = pick(rng, "AcmeFeed", "github", "internal")
    user = pick(rng, "build", "ci@acme.com", "deploy")
    head = '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n'
    return [
        (
            "xml",
            f'{head}  <packageSourceCredentials>\n    <{src}>\n      <add key="Username" value="{user}" />\n'
            f'      <add key="ClearTextPassword" value="{v}" />\n    </{src}>\n'
            f"  </packageSourceCredentials>\n"
            "</configuration>\n",
        ),
        (
            "xml",
            f"{head}  <packageSources>\n"
            f'    <add key="{src}" value="https://pkgs.acme.io/nuget/v3/index.json" />\n'
            f"  </packageSources>\n  <packageSourceCredentials>\n    <{src}>\n"
            f'      <add key="Username" value="{user}" />\n      <add key="ClearTextPassword" value="{v}"/>\n'
            f"    </{src}>\n  </packageSourceCredentials>\n</configuration>\n",
        ),
        (
            "xml",
            f'<configuration>\n<packageSourceCredentials>\n<{src}>\n<add key="Password" value="{v}" />\n'
            f"</{src}>\n</packageSourceCredentials>\n</configuration>\n",
        ),
        (
            "xml",
            f"{head}  <packageSourceCredentials>\n    <{src}>\n"
            f'      <add key="ClearTextPassword"   value="{v}" />\n'
            f'      <add key="Username" value="{user}" />\n'
            f"    </{src}>\n  </packageSourceCredentials>\n</configuration>\n",
        ),
        (
            "shell",
            f"dotnet nuget add source https://pkgs.acme.io/v3/index.json -n {src} -u {user} "
            f"-p {v} --store-password-in-clear-text\n",
        ),
    ]


def tf_password_cases(v: str, rng: random.Random) -> list[tuple[str, str]]:
    return [
        (
            "terraform",
            f'resource "aws_db_instance" "main" {{\n  engine   = "postgres"\n  username = "app"\n'
            f'  password = "{v}"\n}}\n',
        ),
        (
            "terraform",
            f'resource "azurerm_mssql_server" "sql" {{\n  name                         = "sql-prod"\n'
            f'  administrator_login          = "sqladmin"\n'
            f'  administrator_login_password = "{v}"\n}}\n',
        ),
        (
            "terraform",
            f'provider "postgresql" {{\n  host     = "db.internal"\n  username = "tf"\n'
            f'  password = "{v}"\n}}\n',
        ),
        ("hcl", f'# terraform.tfvars\nregion      = "eu-central-1"\ndb_password = "{v}"\n'),
        (
            "terraform",
            f'module "rds" {{\n  source          = "./modules/rds"\n  master_password = "{v}"\n}}\n',
        ),
    ]


def freemius_cases(v: str, rng: random.Random) -> list[tuple[str, str]]:
    slug = pick(rng, "acme-forms", "shop-tools", "seo-boost")
    pid = rng.randrange(1000, 20000)
    return [
        (
            "php",
            f"<?php\n$fs = fs_dynamic_init( array(\n    'id'         => '{pid}',\n"
            f"    'slug'       => '{slug}',\n"
            f"    'public_key' => 'pk_{rs(rng, HEX, 29)}',\n    'secret_key' => '{v}',\n) );\n",
        ),
        ("php", f'<?php\nreturn array(\n    "slug" => "{slug}",\n    "secret_key" => "{v}",\n);\n'),
        (
            "php",
            f"<?php\ndefine( 'WP_FS__DEV_MODE', true );\n$config = [ 'id' => {pid}, 'secret_key'=>'{v}' ];\n",
        ),
        (
            "php",
            f"<?php\nclass Licensing {{\n    private $settings = array(\n        'secret_key' => '{v}',\n"
            "    );\n}\n",
        ),
        (
            "php",
            f"<?php\n"
            f"    $args = array( 'id' => '{pid}', 'slug' => '{slug}', \"secret_key\"  =>  \"{v}\" );\n",
        ),
    ]


def pem_cases(pem: str, rng: random.Random) -> list[tuple[str, str]]:
    escaped = pem.replace("\n", "\\n")
    indented = "\n".join("    " + line for line in pem.splitlines())
    return [
        ("python", f'SIGNING_KEY = """{pem}\n"""\n'),
        (
            "json",
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "acme-prod",
                    "private_key_id": rs(rng, HEX, 40),
                    "private_key": pem + "\n",
                    "client_email": "sync@acme-prod.iam.gserviceaccount.com",
                },
                indent=2,
            )
            + "\n",
        ),
        ("yaml", f"tls:\n  key: |\n{indented}\n"),
        ("dotenv", f'JWT_PRIVATE_KEY="{escaped}"\n'),
        (
            "terraform",
            f'resource "tls_locally_signed_cert" "c" {{\n  ca_private_key_pem = <<EOT\n{pem}\nEOT\n}}\n',
        ),
    ]


def pem_standalone(pem: str, rng: random.Random) -> list[tuple[str, str]]:
    return [("pem", pem + "\n"), ("javascript", f"const material = `{pem}`;\nload(material);\n")]


def bundler_cases(v: str, rng: random.Random) -> list[tuple[str, str]]:
    host = pick(rng, "ENTERPRISE", "GEMS")
    var = f"BUNDLE_{host}__CONTRIBSYS__COM"
    return [
        ("yaml", f'---\nBUNDLE_PATH: "vendor/bundle"\n{var}: "{v}"\n'),
        ("dockerfile", f"FROM ruby:3.3\nARG {var}={v}\nRUN bundle install --jobs 4\n"),
        ("shell", f"bundle config --local {host.lower()}.contribsys.com {v}\n"),
        ("yaml-ci", f"env:\n  RAILS_ENV: test\n  {var}: {v}\n"),
        ("dotenv", f"RAILS_ENV=production\n{var}={v}\n"),
    ]


SPECIALS: dict[str, Special] = {
    "curl-header": curl_header_cases,
    "curl-user": curl_user_cases,
    "k8s": k8s_cases,
    "nuget": nuget_cases,
    "tf-password": tf_password_cases,
    "php-freemius": freemius_cases,
    "pem": pem_cases,
    "bundler": bundler_cases,
}

# --- records ----------------------------------------------------------------------------------------


def record(
    kind: str,
    service: str,
    syntax: str,
    text: str,
    secret: str,
    positive: bool,
    standalone: bool,
    distinctive: bool,
    source: str,
) -> dict[str, object]:
    if positive and secret not in text:
        raise ValueError(f"{kind}: secret not in text")
    return {
        "type": kind,
        "service": service,
        "syntax": syntax,
        "text": text,
        "secret": secret,
        "positive": positive,
        "standalone": standalone,
        "distinctive": distinctive,
        "source": source,
    }


def value_and_secret(t: Type, rng: random.Random) -> tuple[str, str]:
    out = t.gen(rng)
    return out if isinstance(out, tuple) else (out, out)


def positives_for(t: Type, rng: random.Random) -> list[dict[str, object]]:
    source = f"gitleaks rule id {t.id}; {t.fact}"
    rows = []
    if t.special:
        # every case has its own token
        cases_value = [value_and_secret(t, rng) for _ in range(CODE_CASES)]
        for i, (value, secret) in enumerate(cases_value):
            syntax, text = SPECIALS[t.special](value, rng)[i]
            rows.append(record(t.id, t.service, syntax, text, secret, True, False, t.distinctive, source))
        if t.special == "pem":
            for i in range(STANDALONE_CASES):
                value, secret = value_and_secret(t, rng)
                syntax, text = pem_standalone(value, rng)[i]
                rows.append(record(t.id, t.service, syntax, text, secret, True, True, True, source))
        return rows
    syntaxes = rng.sample(sorted(CODE_CONTEXTS), CODE_CASES)
    for syntax in syntaxes:
        stem = rng.choice(GENERIC_STEMS) if t.id == "generic-api-key" else t.stem
        value, secret = value_and_secret(t, rng)
        text = rng.choice(CODE_CONTEXTS[syntax])(Names(stem), value, rng)
        rows.append(record(t.id, t.service, syntax, text, secret, True, False, t.distinctive, source))
    if t.distinctive:
        for syntax, ctx in rng.sample(STANDALONE, STANDALONE_CASES):
            value, secret = value_and_secret(t, rng)
            rows.append(record(t.id, t.service, syntax, ctx(value, rng), secret, True, True, True, source))
    return rows


# --- negatives --------------------------------------------------------------------------------------

Neg = tuple[str, str, str]  # syntax, text, source

SERVICE_STEMS = [t.stem for t in TYPES if t.stem and not t.special]

PLACEHOLDERS = [
    "your-api-key-here",
    "<YOUR_API_KEY>",
    "YOUR_TOKEN_HERE",
    "x" * 32,
    "X" * 40,
    "REPLACE_ME",
    "changeme",
    "TODO",
    "********",
    "<insert token>",
    "sk_live_" + "x" * 24,
    "ghp_" + "x" * 36,
    "AKIA" + "X" * 16,
    "xoxb-your-bot-token",
    "...",
    "<redacted>",
    "your_secret",
    "example-token",
    "dummy",
    "0" * 32,
    "insert-your-key",
    "enter-your-key-here",
    "<secret>",
    "your-webhook-secret",
    "<paste your token>",
    "glpat-xxxxxxxxxxxxxxxxxxxx",
    "npm_" + "X" * 36,
    "FILL_ME_IN",
    "not-set",
    "********************",
]

DOCUMENTED = [
    ("AKIAIOSFODNN7EXAMPLE", "AWS documentation example access key id"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS documentation example secret access key"),
    ("AKIAI44QH8DHBEXAMPLE", "AWS documentation second example access key id"),
    ("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "AWS documentation second example secret key"),
    (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5"
        "MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "jwt.io introduction example token",
    ),
    (
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        "Azurite/Azure Storage emulator well-known devstoreaccount1 key",
    ),
    ("xoxb-not-a-real-token-this-will-not-work", "Slack documentation placeholder bot token"),
    ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "Stripe API reference sample test key"),
]

TEMPLATE_REFS = [
    "${{{{ secrets.{U} }}}}",
    "${{{U}}}",
    "${U}",
    "$({U})",
    "%{U}%",
    "{{{{ .Values.{c} }}}}",
    "{{{{ {s} }}}}",
    "<%= ENV['{U}'] %>",
    "@{U}@",
    "${{env:{U}}}",
    "#{{{U}}}",
    "{{{{ vault_{s} }}}}",
    "${{var.{s}}}",
    "ref+vault://secret/data/app#{s}",
    "${{ssm:/prod/{s}}}",
]


def neg_placeholders(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(45):
        syntax = rng.choice(sorted(CODE_CONTEXTS))
        value = PLACEHOLDERS[i % len(PLACEHOLDERS)]
        text = rng.choice(CODE_CONTEXTS[syntax])(Names(rng.choice(SERVICE_STEMS)), value, rng)
        out.append((syntax, text, "placeholder value in a config slot (common README/sample practice)"))
    return out


def neg_documented(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(24):
        value, fact = DOCUMENTED[i % len(DOCUMENTED)]
        syntax = rng.choice(sorted(CODE_CONTEXTS))
        stem = ("aws", "access", "key", "id") if value.startswith("AKIA") else rng.choice(GENERIC_STEMS)
        out.append((syntax, rng.choice(CODE_CONTEXTS[syntax])(Names(stem), value, rng), fact))
    return out


def neg_templates(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(40):
        n = Names(rng.choice(SERVICE_STEMS))
        value = TEMPLATE_REFS[i % len(TEMPLATE_REFS)].format(U=n.upper, c=n.camel, s=n.snake)
        syntax = rng.choice(
            [
                "yaml-ci",
                "yaml-k8s",
                "yaml-compose",
                "json",
                "toml",
                "terraform",
                "dotenv",
                "properties",
                "xml",
                "ini",
            ]
        )
        out.append(
            (syntax, rng.choice(CODE_CONTEXTS[syntax])(n, value, rng), "template/secret-store reference")
        )
    return out


ENV_LOOKUPS = [
    ("python", '{s} = os.environ["{U}"]\n'),
    ("python", '{s} = os.getenv("{U}", "")\n'),
    ("javascript", "const {c} = process.env.{U};\n"),
    ("typescript", 'const {c}: string = process.env["{U}"] ?? "";\n'),
    ("java", 'String {c} = System.getenv("{U}");\n'),
    ("go", '{c} := os.Getenv("{U}")\n'),
    ("ruby", '{s} = ENV.fetch("{U}")\n'),
    ("rust", 'let {s} = std::env::var("{U}")?;\n'),
    ("csharp", 'var {c} = Environment.GetEnvironmentVariable("{U}");\n'),
    ("php", "<?php\n${c} = getenv('{U}');\n"),
    ("kotlin", 'val {c} = System.getenv("{U}") ?: error("missing")\n'),
    ("shell", '{U}="$(vault kv get -field=value secret/{s})"\n'),
    ("shell", 'export {U}="${{{U}:?must be set}}"\n'),
    ("swift", 'let {c} = ProcessInfo.processInfo.environment["{U}"]\n'),
    (
        "yaml-k8s",
        "env:\n  - name: {U}\n    valueFrom:\n      secretKeyRef:\n        name: app\n        key: {s}\n",
    ),
]


def neg_env(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(40):
        n = Names(rng.choice(SERVICE_STEMS))
        syntax, tpl = ENV_LOOKUPS[i % len(ENV_LOOKUPS)]
        out.append((syntax, tpl.format(U=n.upper, c=n.camel, s=n.snake), "environment / secret-store lookup"))
    return out


HASH_NAMES = [
    ("checksum",),
    ("sha256",),
    ("file", "digest"),
    ("etag",),
    ("content", "hash"),
    ("sha1",),
    ("md5", "sum"),
    ("build", "hash"),
    ("cache", "hash"),
    ("commit", "sha"),
]


def neg_hashes(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(50):
        length = rng.choice([32, 40, 64, 128])
        value = rs(rng, HEX, length)
        if i % 5 == 4:
            syntax = "shell"
            algo = 256 if length == 64 else 1
            text = f'echo "{value}  dist/app-{rng.randrange(1, 9)}.tar.gz" | sha{algo}sum -c -\n'
        else:
            syntax = rng.choice(sorted(CODE_CONTEXTS))
            text = rng.choice(CODE_CONTEXTS[syntax])(Names(rng.choice(HASH_NAMES)), value, rng)
        out.append((syntax, text, f"{length}-hex digest (md5/sha1/sha256/sha512) in a checksum slot"))
    return out


def neg_git_shas(rng: random.Random) -> list[Neg]:
    tpls = [
        (
            "yaml-ci",
            "    steps:\n      - uses: actions/checkout@{h}  # v4.1.1\n"
            "      - uses: actions/setup-node@{h2}\n",
        ),
        (
            "yaml",
            "repos:\n  - repo: https://github.com/psf/black\n    rev: {h}\n    hooks:\n      - id: black\n",
        ),
        (
            "toml",
            '[[package]]\nname = "fastmap"\nsource = "git+https://github.com/acme/fastmap?rev=main#{h}"\n',
        ),
        ("shell", "git fetch origin && git checkout {h}\n"),
        ("go", "require github.com/acme/lib v0.0.0-2023{d}-{h12}\n"),
        ("json", '{{\n  "dependencies": {{\n    "ui-kit": "github:acme/ui-kit#{h}"\n  }}\n}}\n'),
        ("markdown", "Fixed in commit {h} (see #{n}).\n"),
        ("python", 'PINNED_REVISION = "{h}"\n'),
        ("dockerfile", "ARG GIT_COMMIT={h}\nLABEL org.opencontainers.image.revision=$GIT_COMMIT\n"),
        (
            "toml",
            "[tool.poetry.dependencies]\n"
            'libx = {{ git = "https://github.com/acme/libx.git", rev = "{h}" }}\n',
        ),
    ]
    out = []
    for i in range(30):
        syntax, tpl = tpls[i % len(tpls)]
        h = rs(rng, HEX, 40)
        text = tpl.format(h=h, h2=rs(rng, HEX, 40), h12=h[:12], d=rs(rng, DIG, 10), n=rng.randrange(10, 999))
        out.append((syntax, text, "git commit SHA-1 (40 hex) as a pin or reference"))
    return out


def neg_integrity(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(40):
        k = i % 8
        if k == 0:
            out.append(
                (
                    "html",
                    f'<script src="https://cdn.jsdelivr.net/npm/lib@{rng.randrange(1, 9)}.0.0/'
                    'dist/lib.min.js" '
                    f'integrity="sha384-{rand_b64(rng, 48)}" crossorigin="anonymous"></script>\n',
                    "Subresource Integrity hash (W3C SRI)",
                )
            )
        elif k == 1:
            out.append(
                (
                    "json",
                    f'    "node_modules/left-pad": {{\n      "version": "1.3.0",\n'
                    f'      "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",\n'
                    f'      "integrity": "sha512-{rand_b64(rng, 64)}"\n    }},\n',
                    "package-lock.json integrity (sha512 base64)",
                )
            )
        elif k == 2:
            out.append(
                (
                    "yarn-lock",
                    f'lodash@^4.17.21:\n  version "4.17.21"\n  resolved "https://registry.yarnpkg.com/lodash/-/'
                    f'lodash-4.17.21.tgz#{rs(rng, HEX, 40)}"\n  integrity sha512-{rand_b64(rng, 64)}\n',
                    "yarn.lock resolved#sha1 and integrity",
                )
            )
        elif k == 3:
            out.append(
                (
                    "go-sum",
                    f"github.com/acme/lib v1.{rng.randrange(0, 9)}.0 h1:{rand_b64(rng, 32)}\n"
                    f"github.com/acme/lib v1.{rng.randrange(0, 9)}.0/go.mod h1:{rand_b64(rng, 32)}\n",
                    "go.sum h1: hash (base64 sha256)",
                )
            )
        elif k == 4:
            out.append(
                (
                    "toml",
                    f'[[package]]\nname = "requests"\nversion = "2.31.0"\nfiles = [\n'
                    '    {file = "requests-2.31.0-py3-none-any.whl", '
                    f'hash = "sha256:{rs(rng, HEX, 64)}"}},\n]\n',
                    "poetry.lock file hash",
                )
            )
        elif k == 5:
            out.append(
                (
                    "text",
                    f"requests==2.31.0 \\\n    --hash=sha256:{rs(rng, HEX, 64)} \\\n"
                    f"    --hash=sha256:{rs(rng, HEX, 64)}\n",
                    "pip --require-hashes line",
                )
            )
        elif k == 6:
            out.append(("dockerfile", f"FROM node:20-alpine@sha256:{rs(rng, HEX, 64)}\n", "image digest pin"))
        else:
            out.append(
                (
                    "yaml-k8s",
                    f"      containers:\n        - name: app\n          image: ghcr.io/acme/app@sha256:"
                    f"{rs(rng, HEX, 64)}\n",
                    "image digest pin",
                )
            )
    return out


UUID_NAMES = [
    ("request", "id"),
    ("tenant", "id"),
    ("project", "guid"),
    ("correlation", "id"),
    ("device", "id"),
    ("subscription", "id"),
    ("workspace", "id"),
    ("trace", "id"),
    ("dashboard", "uid"),
    ("order", "id"),
]


def neg_uuids(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(40):
        u = uuid4(rng, upper=i % 7 == 0)
        if i % 5 == 0:
            out.append(
                (
                    "sln",
                    f'Project("{{{uuid4(rng, True)}}}") = "Core", "Core\\Core.csproj", "{{{u.upper()}}}"\n',
                    "Visual Studio project GUID",
                )
            )
        elif i % 5 == 1:
            out.append(
                (
                    "yaml-k8s",
                    f"metadata:\n  name: web-7d9f\n  uid: {u}\n"
                    f'  resourceVersion: "{rng.randrange(10**5, 10**6)}"\n',
                    "Kubernetes object uid",
                )
            )
        else:
            syntax = rng.choice(sorted(CODE_CONTEXTS))
            out.append(
                (
                    syntax,
                    rng.choice(CODE_CONTEXTS[syntax])(Names(rng.choice(UUID_NAMES)), u, rng),
                    "UUID identifier (RFC 4122)",
                )
            )
    return out


def neg_base64_data(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(30):
        k = i % 5
        if k == 0:
            data = base64.b64encode(
                b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(120))
            ).decode()
            out.append(
                (
                    "css",
                    f'.icon {{\n  background-image: url("data:image/png;base64,{data}");\n}}\n',
                    "PNG data URI (RFC 2397)",
                )
            )
        elif k == 1:
            data = base64.b64encode(
                b"wOF2\x00\x01\x00\x00" + bytes(rng.randrange(256) for _ in range(150))
            ).decode()
            out.append(
                (
                    "css",
                    f"@font-face {{\n  font-family: 'Inter';\n"
                    f"  src: url(data:font/woff2;base64,{data}) format('woff2');\n}}\n",
                    "WOFF2 font data URI",
                )
            )
        elif k == 2:
            data = base64.b64encode(b"GIF89a" + bytes(rng.randrange(256) for _ in range(60))).decode()
            out.append(("html", f'<img alt="spinner" src="data:image/gif;base64,{data}">\n', "GIF data URI"))
        elif k == 3:
            data = base64.b64encode(
                b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(rng.randrange(256) for _ in range(90))
            ).decode()
            out.append(
                (
                    "javascript",
                    f"const placeholderImage = 'data:image/jpeg;base64,{data}';\n",
                    "JPEG data URI",
                )
            )
        else:
            svg = (
                "<svg xmlns='http://www.w3.org/2000/svg' width='16' height='16'>"
                "<path d='M0 0h16v16H0z' fill='#%06x'/></svg>"
            )
            data = base64.b64encode((svg % rng.randrange(0, 0xFFFFFF)).encode()).decode()
            out.append(("markdown", f"![logo](data:image/svg+xml;base64,{data})\n", "SVG data URI"))
    return out


LONG_IDS = [
    "AbstractSingletonProxyFactoryBeanConfigurationHandler",
    "com.acme.payments.StripeWebhookEventProcessorFactory",
    "test_refresh_token_is_rotated_when_access_token_expires",
    "TokenRefreshInterceptorWithExponentialBackoff",
    "user_profile_avatar_thumbnail_large_retina",
    "handleOAuthCallbackAndPersistCredentialsToKeychain",
    "io.acme.auth.PasswordResetTokenRepositoryImplementation",
    "SECRET_ROTATION_SCHEDULE_CRON_EXPRESSION",
    "GetSecretValueRequestBuilderForCrossAccountAccess",
    "apiKeyAuthenticationFilterChainRegistrationBean",
]


def neg_long_ids(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(25):
        syntax = rng.choice(sorted(CODE_CONTEXTS))
        stem = rng.choice(
            [("handler", "class"), ("cache", "key"), ("bean", "name"), ("test", "name"), ("secret", "name")]
        )
        out.append(
            (
                syntax,
                rng.choice(CODE_CONTEXTS[syntax])(Names(stem), LONG_IDS[i % len(LONG_IDS)], rng),
                "long identifier as a value",
            )
        )
    return out


def neg_minified(rng: random.Random) -> list[Neg]:
    out = []
    for _ in range(20):
        a, b, c, d = (rng.choice(LOW) for _ in range(4))
        frag = rng.choice(
            [
                f"!function({a},"
                f'{b}){{"object"==typeof exports&&"undefined"!=typeof module?module.exports={b}():'
                f'"function"==typeof define&&define.amd?define({b}):'
                f'({a}={a}||self).Lib={b}()}}(this,function(){{"use strict";',
                f"var {a}=function({b},{c}){{return {b}.apply({c},arguments)}},"
                f"{d}=Object.prototype.hasOwnProperty;"
                f'function x{a}{b}({c}){{return null!={c}&&{d}.call({c},"key")}}',
                f"{a}.exports=function({b}){{var {c}=[];"
                f"return {c}.toString=function(){{return this.map(function({d})"
                f'{{return {d}[1]}}).join("")}},{c}}};',
                f"const {a}{b}=({c},{d})=>{c}.reduce(({a},{b})=>({a}[{b}.id]={b},{a}),{d}||{{}});"
                f"export{{{a}{b} as indexById}};",
            ]
        )
        out.append(("javascript", frag + "\n", "minified JavaScript fragment"))
    return out


TEST_WORDS = [
    "password",
    "test",
    "secret",
    "changeme",
    "changeit",
    "admin",
    "example",
    "dummy",
    "fake",
    "placeholder",
    "pass",
    "testpassword",
    "postgres",
    "root",
    "guest",
]


def neg_test_passwords(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(30):
        syntax = rng.choice(sorted(CODE_CONTEXTS))
        stem = rng.choice([("password",), ("db", "password"), ("admin", "password"), ("test", "password")])
        out.append(
            (
                syntax,
                rng.choice(CODE_CONTEXTS[syntax])(Names(stem), TEST_WORDS[i % len(TEST_WORDS)], rng),
                "test-word password",
            )
        )
    return out


def wrong_checksum(prefix: str, rng: random.Random) -> str:
    body = rs(rng, B62, 30)
    good = b62(zlib.crc32(body.encode()))
    bad = good
    while bad == good:
        bad = rs(rng, B62, 6)
    return prefix + body + bad


def neg_wrong_checksum(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(30):
        v = wrong_checksum(["ghp_", "gho_", "ghs_", "npm_"][i % 4], rng)
        if i % 3 == 0:
            out.append(
                (
                    "python",
                    f'@pytest.mark.parametrize("value", ["{v}"])\ndef test_rejects_bad_checksum(value):\n'
                    f"    assert not is_valid(value)\n",
                    "GitHub/npm token shape whose CRC32 checksum is wrong",
                )
            )
        else:
            syntax, ctx = STANDALONE[i % len(STANDALONE)]
            out.append((syntax, ctx(v, rng), "GitHub/npm token shape whose CRC32 checksum is wrong"))
    return out


def neg_public_keys(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(30):
        k = i % 6
        if k == 0:
            body = base64.b64encode(
                b"\x00\x00\x00\x07ssh-rsa\x00\x00\x00\x03\x01\x00\x01"
                + bytes(rng.randrange(256) for _ in range(260))
            ).decode()
            out.append(
                (
                    "authorized_keys",
                    f"ssh-rsa {body} deploy@build-{rng.randrange(1, 9)}\n",
                    "OpenSSH RSA public key",
                )
            )
        elif k == 1:
            body = base64.b64encode(
                b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + bytes(rng.randrange(256) for _ in range(32))
            ).decode()
            out.append(
                (
                    "terraform",
                    f'resource "aws_key_pair" "deploy" {{\n  key_name   = "deploy"\n'
                    f'  public_key = "ssh-ed25519 {body} ops@acme"\n}}\n',
                    "OpenSSH ed25519 public key",
                )
            )
        elif k == 2:
            lines = private_key_body(rng, 290)
            out.append(
                (
                    "pem",
                    "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n",
                    "PEM SubjectPublicKeyInfo",
                )
            )
        elif k == 3:
            lines = private_key_body(rng, 700)
            out.append(
                (
                    "pem",
                    "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n",
                    "PEM X.509 certificate",
                )
            )
        elif k == 4:
            lines = private_key_body(rng, 600)
            pem = "-----BEGIN CERTIFICATE-----\\n" + "\\n".join(lines) + "\\n-----END CERTIFICATE-----\\n"
            out.append(("json", f'{{\n  "ca_bundle": "{pem}"\n}}\n', "certificate in JSON"))
        else:
            body = base64.b64encode(
                b"\x00\x00\x00\x13ecdsa-sha2-nistp256" + bytes(rng.randrange(256) for _ in range(80))
            ).decode()
            out.append(("known_hosts", f"github.com ecdsa-sha2-nistp256 {body}\n", "known_hosts host key"))
    return out


def neg_misc(rng: random.Random) -> list[Neg]:
    out = []
    for i in range(30):
        k = i % 6
        if k == 0:
            out.append(
                (
                    "json",
                    json.dumps(
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Principal": {
                                "AWS": f"arn:aws:iam::{rs(rng, DIG, 12)}:role/"
                                f"{pick(rng, 'reader', 'ci-deploy')}"
                            },
                        }
                    )
                    + "\n",
                    "AWS ARN",
                )
            )
        elif k == 1:
            out.append(
                (
                    "html",
                    '<script async src="https://www.googletagmanager.com/gtag/js'
                    f'?id=G-{rs(rng, UAN, 10)}"></script>\n',
                    "Google Analytics measurement id (public)",
                )
            )
        elif k == 2:
            out.append(
                (
                    "javascript",
                    f"const GOOGLE_CLIENT_ID = '{rs(rng, DIG, 12)}-{rs(rng, LAN, 32)}"
                    ".apps.googleusercontent.com';\n",
                    "Google OAuth client id (public by design)",
                )
            )
        elif k == 3:
            out.append(
                (
                    "css",
                    f":root {{ --brand: #{rs(rng, HEX, 6)}; --accent: #{rs(rng, HEX, 6)}; }}\n",
                    "CSS colours",
                )
            )
        elif k == 4:
            out.append(
                (
                    "python",
                    f'API_URL = "https://api.{pick(rng, "acme", "example")}.com/v{rng.randrange(1, 4)}/'
                    f'{pick(rng, "orders", "users")}?page=2&per_page=50"\n',
                    "URL without credentials",
                )
            )
        else:
            out.append(
                (
                    "yaml-ci",
                    '      - run: echo "version=$(git describe --tags)" >> $GITHUB_OUTPUT\n'
                    "      - uses: actions/cache@v4\n        with:\n"
                    "          key: deps-${{ hashFiles('**/package-lock.json') }}\n",
                    "CI cache key expression",
                )
            )
    return out


NEGATIVES: list[tuple[str, Callable[[random.Random], list[Neg]]]] = [
    ("neg-placeholder", neg_placeholders),
    ("neg-documented-example", neg_documented),
    ("neg-template-reference", neg_templates),
    ("neg-env-lookup", neg_env),
    ("neg-hash", neg_hashes),
    ("neg-git-sha", neg_git_shas),
    ("neg-integrity", neg_integrity),
    ("neg-uuid", neg_uuids),
    ("neg-base64-data", neg_base64_data),
    ("neg-long-identifier", neg_long_ids),
    ("neg-minified", neg_minified),
    ("neg-test-password", neg_test_passwords),
    ("neg-wrong-checksum", neg_wrong_checksum),
    ("neg-public-key", neg_public_keys),
    ("neg-misc", neg_misc),
]


def build(seed: int = DEFAULT_SEED) -> list[dict[str, object]]:
    """Every case, positives then negatives, from one seeded generator."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for t in TYPES:
        rows.extend(positives_for(t, rng))
    for kind, make in NEGATIVES:
        for syntax, text, source in make(rng):
            rows.append(record(kind, "", syntax, text, "", False, False, False, source))
    return rows


def write(path: Path, seed: int = DEFAULT_SEED) -> int:
    rows = build(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    n = write(args.out, args.seed)
    print(f"wrote {n} cases to {args.out}")


if __name__ == "__main__":
    main()

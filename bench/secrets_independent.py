"""An independent labelled set for the secret detector (issue 10).

The detector's own labelled set is generated from its rule table, so it can only show that a
rule matches what the rule's author thought a token looks like. This set is written from
public facts about token formats (vendor documentation, the token layouts that established
scanners document: gitleaks rule ids, trufflehog detectors, GitHub's token-format post,
npm's token-format post), never from our rules, so a miss here is a miss on a real format.

Every credential is generated with its documented prefix, alphabet, length and, where there
is one, its checksum (GitHub classic and npm tokens: the last 6 characters are the base62
CRC32 of the 30 random ones). Each is placed in code written here: Python, JS/TS, Go, Java,
C#, Ruby, PHP, Rust, YAML (k8s, CI), .env, JSON, TOML, INI, XML, shell, Dockerfile,
Terraform, properties, curl. Self-identifying formats also appear "standalone": passed to a
call, in a list, or in a dict under a neutral key, with no telling variable name.

Negatives are what a detector must leave alone: placeholders, template and environment
references, documented example values, hashes, git SHAs, SRI digests, UUIDs, base64 data,
version strings, wrong-checksum GitHub/npm look-alikes, identifiers and test words.

The held-out split is decided by a stable hash of the type (positives) or of the category
(negatives), about one third of each, so rules can be fixed on the dev split and judged on
types nobody tuned against.

    python bench/secrets_independent.py            # writes tests/core/data/secrets/independent.jsonl
    python bench/secrets_independent.py --out X.jsonl
"""

# ruff: noqa: E501 - code templates and the type table read best one per line

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import string
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "core" / "data" / "secrets" / "independent.jsonl"
SEED = 20240610

DIGITS = string.digits
LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
A = UPPER + LOWER + DIGITS  # alphanumeric
H = "0123456789abcdef"  # lowercase hex
HU = "0123456789ABCDEF"
L = LOWER + DIGITS  # lowercase alphanumeric
U = UPPER + DIGITS  # uppercase alphanumeric
W = A + "-_"  # base64url
S = A + "+/"  # base64
B32 = UPPER + "234567"
B62 = DIGITS + UPPER + LOWER  # GitHub/npm checksum alphabet, 0-9A-Za-z
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
PASSWORD_CHARS = A + "-_.!%^*+="
URL_PASSWORD_CHARS = A + "-_.~"

Gen = Callable[[random.Random], tuple[str, str]]  # -> (value placed in the text, secret)
Part = str | tuple[str, int] | tuple[str, int, int]


def pick(r: random.Random, alphabet: str, n: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def shape(*parts: Part) -> Gen:
    """A token made of literal parts and random runs (alphabet, length) or (alphabet, lo, hi)."""

    def gen(r: random.Random) -> tuple[str, str]:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            elif len(part) == 2:
                out.append(pick(r, part[0], part[1]))
            else:
                out.append(pick(r, part[0], r.randint(part[1], part[2])))
        value = "".join(out)
        return value, value

    return gen


def one(make: Callable[[random.Random], str]) -> Gen:
    """A generator whose whole value is the secret."""

    def gen(r: random.Random) -> tuple[str, str]:
        value = make(r)
        return value, value

    return gen


def b62(number: int, width: int = 6) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = B62[rest] + digits
    return digits.rjust(width, "0")


def crc_body(r: random.Random) -> tuple[str, str]:
    """30 random base62 characters and their checksum: base62(CRC32(body)), 6 characters."""
    body = pick(r, B62, 30)
    return body, b62(zlib.crc32(body.encode()))


def crc_token(prefix: str) -> Gen:
    def gen(r: random.Random) -> tuple[str, str]:
        body, check = crc_body(r)
        return prefix + body + check, prefix + body + check

    return gen


def wrong_crc_token(r: random.Random, prefix: str) -> str:
    body, check = crc_body(r)
    bad = check
    while bad == check:
        bad = pick(r, B62, 6)
    return prefix + body + bad


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def compact(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def uuid4(r: random.Random) -> str:
    h = pick(r, H, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{r.choice('89ab')}{h[17:20]}-{h[20:]}"


# ---------------------------------------------------------------------------------------------
# Structured generators (formats with an inner layout)


def jwt(r: random.Random) -> str:
    header = b64url(compact({"alg": r.choice(["HS256", "RS256"]), "typ": "JWT"}))
    now = 1_700_000_000 + r.randint(0, 30_000_000)
    claims = {"sub": str(r.randint(10**6, 10**9)), "iat": now, "exp": now + 3600}
    if r.random() < 0.5:
        claims["role"] = r.choice(["service_role", "admin", "reader"])
    return f"{header}.{b64url(compact(claims))}.{b64url(r.randbytes(32))}"


def gen_jwt(r: random.Random) -> tuple[str, str]:
    value = jwt(r)
    return value, value


def gen_jwt_base64(r: random.Random) -> tuple[str, str]:
    value = b64(jwt(r).encode())
    return value, value


def gen_aws_session(r: random.Random) -> tuple[str, str]:
    value = b64(b"!\n\torigin_ec" + r.randbytes(r.randint(280, 400)))
    return value, value


def gen_pypi(host: bytes) -> Gen:
    def gen(r: random.Random) -> tuple[str, str]:
        raw = b"\x02\x01" + bytes([len(host)]) + host + b"\x02\x25" + r.randbytes(r.randint(120, 160))
        value = "pypi-" + b64url(raw)
        return value, value

    return gen


def gen_sentry_org(r: random.Random) -> tuple[str, str]:
    payload = {
        "iat": r.randint(1_700_000_000, 1_730_000_000) + r.random(),
        "url": "https://sentry.io",
        "region_url": "https://us.sentry.io",
        "org": r.choice(["acme", "globex", "initech"]),
    }
    value = "sntrys_" + b64(compact(payload)) + "_" + pick(r, S, 43)
    return value, value


def gen_grafana_cloud(r: random.Random) -> tuple[str, str]:
    payload = {"o": str(r.randint(10**5, 10**6)), "n": f"stack-{r.randint(100, 999)}-hm-write",
               "k": pick(r, A, 24), "m": {"r": r.choice(["us", "eu", "au"])}}  # fmt: skip
    value = "glc_" + b64(compact(payload))
    return value, value


def gen_grafana_legacy(r: random.Random) -> tuple[str, str]:
    value = b64(
        compact({"k": pick(r, A, 32), "n": r.choice(["ci", "deploy", "viewer"]), "id": r.randint(1, 9)})
    )
    return value, value


def gen_mapbox_secret(r: random.Random) -> tuple[str, str]:
    claims = b64url(compact({"u": r.choice(["acme-maps", "fleetco", "geodev"]), "a": pick(r, L, 25)}))
    value = f"sk.{claims}.{pick(r, W, 22)}"
    return value, value


def gen_onepassword_sa(r: random.Random) -> tuple[str, str]:
    payload = {
        "signInAddress": "my.1password.com",
        "userAuth": {"method": "SRPg-4096", "alg": "PBES2g-HS256", "iterations": 650000, "salt": pick(r, W, 22)},
        "email": f"{pick(r, L, 12)}@1passwordserviceaccounts.com",
        "srpX": pick(r, H, 64),
        "muk": {"alg": "A256GCM", "ext": True, "k": pick(r, W, 43), "key_ops": ["encrypt", "decrypt"], "kty": "oct",
                "kid": "mp"},
        "secretKey": "A3-" + "-".join(pick(r, U, n) for n in (6, 6, 5, 5, 5, 5)),
        "throttleSecret": {"seed": pick(r, H, 64), "uuid": pick(r, U, 26)},
        "deviceUuid": pick(r, L, 26),
    }  # fmt: skip
    value = "ops_" + b64(compact(payload))
    return value, value


def gen_discord_bot(r: random.Random) -> tuple[str, str]:
    user_id = str(r.randint(10**17, 10**18 - 1))
    value = f"{b64(user_id.encode()).rstrip('=')}.{pick(r, W, 6)}.{pick(r, W, 38)}"
    return value, value


def gen_django_insecure(r: random.Random) -> tuple[str, str]:
    value = "django-insecure-" + pick(r, L + "!@#$%^&*(-_=+)", 50)
    return value, value


def gen_azure_ad_secret(r: random.Random) -> tuple[str, str]:
    value = pick(r, A + "_~.", 3) + r.choice(DIGITS) + "Q~" + pick(r, A + "_~.-", 34)
    return value, value


def gen_atlassian(r: random.Random) -> tuple[str, str]:
    value = "ATATT3xFfGF0" + pick(r, W, 171) + "=" + pick(r, HU, 8)
    return value, value


def gen_firebase_fcm(r: random.Random) -> tuple[str, str]:
    value = "AAAA" + pick(r, W, 7) + ":APA91b" + pick(r, W, 134)
    return value, value


def gen_basic_auth(r: random.Random) -> tuple[str, str]:
    user = r.choice(["deploy", "ci-bot", "svc_reports", "admin", "jenkins"])
    value = b64(f"{user}:{pick(r, URL_PASSWORD_CHARS, r.randint(14, 24))}".encode())
    return value, value


def gen_docker_auth(r: random.Random) -> tuple[str, str]:
    user = r.choice(["deploy", "ci", "robot$builder"])
    value = b64(f"{user}:{pick(r, A, 32)}".encode())
    return value, value


def gen_k8s_secret_data(r: random.Random) -> tuple[str, str]:
    value = b64(pick(r, PASSWORD_CHARS, r.randint(16, 28)).encode())
    return value, value


def gen_laravel_key(r: random.Random) -> tuple[str, str]:
    value = "base64:" + b64(r.randbytes(32))
    return value, value


def password(r: random.Random, alphabet: str = PASSWORD_CHARS) -> str:
    """A strong password: starts with a letter, has a digit and a symbol, 14-24 characters."""
    body = r.choice(string.ascii_letters) + pick(r, alphabet, r.randint(11, 21))
    return body + r.choice(DIGITS) + r.choice("-_.!%*+=" if alphabet is PASSWORD_CHARS else "-_.~")


def gen_password(r: random.Random) -> tuple[str, str]:
    value = password(r)
    return value, value


def url_gen(template: str) -> Gen:
    """A URL or connection string; the secret is the password in it ({p})."""

    def gen(r: random.Random) -> tuple[str, str]:
        secret = password(r, URL_PASSWORD_CHARS)
        user = r.choice(["app", "svc_billing", "reporting", "api_user", "etl"])
        host = r.choice(["db-prod-01.internal", "10.20.4.17", "pg.acme-corp.net", "primary.cluster.local"])
        return template.format(u=user, p=secret, h=host, n=pick(r, L, 5)), secret

    return gen


def gen_azure_storage(r: random.Random) -> tuple[str, str]:
    key = b64(r.randbytes(64))
    account = "st" + pick(r, L, 10)
    conn = f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};EndpointSuffix=core.windows.net"
    return conn, key


def gen_azure_cosmos(r: random.Random) -> tuple[str, str]:
    key = b64(r.randbytes(64))
    return f"AccountEndpoint=https://{pick(r, L, 8)}.documents.azure.com:443/;AccountKey={key};", key


def gen_azure_servicebus(r: random.Random) -> tuple[str, str]:
    key = b64(r.randbytes(32))
    ns = pick(r, L, 9)
    conn = f"Endpoint=sb://{ns}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={key}"
    return conn, key


def gen_azure_sas(r: random.Random) -> tuple[str, str]:
    sig = b64(r.randbytes(32)).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    url = (f"https://{pick(r, L, 10)}.blob.core.windows.net/exports?sv=2022-11-02&ss=b&srt=co&sp=rl"
           f"&se=2025-12-31T23:59:59Z&st=2024-01-01T00:00:00Z&spr=https&sig={sig}")  # fmt: skip
    return url, sig


def gen_slack_webhook(r: random.Random) -> tuple[str, str]:
    secret = pick(r, A, 24)
    return f"https://hooks.slack.com/services/T{pick(r, U, 10)}/B{pick(r, U, 10)}/{secret}", secret


def gen_slack_trigger(r: random.Random) -> tuple[str, str]:
    secret = pick(r, H, 32)
    return f"https://hooks.slack.com/triggers/T{pick(r, U, 10)}/{r.randint(10**12, 10**13)}/{secret}", secret


def gen_discord_webhook(r: random.Random) -> tuple[str, str]:
    secret = pick(r, W, 68)
    return f"https://discord.com/api/webhooks/{r.randint(10**17, 10**18 - 1)}/{secret}", secret


def gen_teams_webhook(r: random.Random) -> tuple[str, str]:
    secret = pick(r, H, 32)
    url = (f"https://{pick(r, L, 8)}.webhook.office.com/webhookb2/{uuid4(r)}@{uuid4(r)}"
           f"/IncomingWebhook/{secret}/{uuid4(r)}")  # fmt: skip
    return url, secret


def gen_gcp_sa_json(r: random.Random) -> tuple[str, str]:
    pem, secret = pem_block(
        "PRIVATE KEY", bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7"), 1180
    )(r)
    project = r.choice(["billing-prod", "ml-pipeline-381207", "acme-analytics"])
    doc = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": pick(r, H, 40),
        "private_key": pem,
        "client_email": f"etl-runner@{project}.iam.gserviceaccount.com",
        "client_id": str(r.randint(10**20, 10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return json.dumps(doc, indent=2), secret


def pem_block(label: str, der_prefix: bytes, size: int, width: int = 64) -> Gen:
    """A PEM block whose body is base64 of a realistic DER prefix and random bytes.

    The secret is the second body line: it must disappear whatever the detector replaces.
    """

    def gen(r: random.Random) -> tuple[str, str]:
        body = b64(der_prefix + r.randbytes(size))
        lines = [body[i : i + width] for i in range(0, len(body), width)]
        text = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"
        return text, lines[1]

    return gen


def gen_pgp_private(r: random.Random) -> tuple[str, str]:
    body = b64(b"\x95\x03\x98\x04" + r.randbytes(900))
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    crc = b64(r.randbytes(3))
    text = ("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + "\n".join(lines) + f"\n={crc}\n"
            "-----END PGP PRIVATE KEY BLOCK-----")  # fmt: skip
    return text, lines[1]


def gen_putty(r: random.Random) -> tuple[str, str]:
    public = b64(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + r.randbytes(32))
    private = b64(b"\x00\x00\x00 " + r.randbytes(32))
    text = (f"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@build\nPublic-Lines: 2\n"
            f"{public[:64]}\n{public[64:]}\nPrivate-Lines: 1\n{private}\nPrivate-MAC: {pick(r, H, 64)}")  # fmt: skip
    return text, private


def gen_openssh(r: random.Random) -> tuple[str, str]:
    raw = (b"openssh-key-v1\x00\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00\x00\x00\x00\x01"
           b"\x00\x00\x003\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + r.randbytes(330))  # fmt: skip
    body = b64(raw)
    lines = [body[i : i + 70] for i in range(0, len(body), 70)]
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----"
    return text, lines[1]


# ---------------------------------------------------------------------------------------------
# Credential types


@dataclass(frozen=True)
class Spec:
    type: str
    service: str
    gen: Gen
    names: tuple[str, ...]  # telling variable names, snake_case
    source: str
    distinctive: bool = True  # self-identifying: also generated standalone
    kind: str = "token"  # token | url | pem | header_basic | header_bearer | raw


SPECS: list[Spec] = []


def add(type_: str, service: str, gen: Gen, names: str, source: str, distinctive: bool = True,
        kind: str = "token") -> None:  # fmt: skip
    SPECS.append(Spec(type_, service, gen, tuple(names.split("|")), source, distinctive, kind))


GL = "gitleaks rule id "
TH = "trufflehog detector "

# AI providers
add(
    "openai_project_key",
    "OpenAI",
    shape("sk-proj-", (W, 74), "T3BlbkFJ", (W, 74)),
    "openai_api_key|openai_key",
    GL + "openai-api-key (sk-proj-, T3BlbkFJ marker); OpenAI docs",
)
add(
    "openai_service_account_key",
    "OpenAI",
    shape("sk-svcacct-", (W, 74), "T3BlbkFJ", (W, 74)),
    "openai_api_key",
    GL + "openai-api-key (sk-svcacct-)",
)
add(
    "openai_admin_key",
    "OpenAI",
    shape("sk-admin-", (W, 58), "T3BlbkFJ", (W, 58)),
    "openai_admin_key",
    GL + "openai-api-key (sk-admin-)",
)
add(
    "openai_legacy_key",
    "OpenAI",
    shape("sk-", (A, 20), "T3BlbkFJ", (A, 20)),
    "openai_api_key",
    GL + "openai-api-key (legacy sk- 20+T3BlbkFJ+20)",
)
add(
    "anthropic_api_key",
    "Anthropic",
    shape("sk-ant-api03-", (W, 93), "AA"),
    "anthropic_api_key",
    GL + "anthropic-api-key; Anthropic console key format",
)
add(
    "anthropic_admin_key",
    "Anthropic",
    shape("sk-ant-admin01-", (W, 93), "AA"),
    "anthropic_admin_key",
    GL + "anthropic-admin-api-key",
)
add(
    "huggingface_token",
    "Hugging Face",
    shape("hf_", (string.ascii_letters, 34)),
    "hf_token|huggingface_token",
    GL + "huggingface-access-token; HF docs (hf_ prefix)",
)
add(
    "huggingface_org_token",
    "Hugging Face",
    shape("api_org_", (string.ascii_letters, 34)),
    "hf_org_token",
    GL + "huggingface-organization-api-token",
)
add("groq_api_key", "Groq", shape("gsk_", (A, 52)), "groq_api_key", TH + "groq (gsk_ + 52)")
add(
    "perplexity_api_key",
    "Perplexity",
    shape("pplx-", (A, 48)),
    "perplexity_api_key",
    GL + "perplexity-api-key",
)
add(
    "replicate_api_token",
    "Replicate",
    shape("r8_", (A, 37)),
    "replicate_api_token",
    TH + "replicate (r8_ + 37); Replicate docs",
)
add("xai_api_key", "xAI", shape("xai-", (A, 80)), "xai_api_key", TH + "xai (xai- + 80)")
add(
    "openrouter_api_key",
    "OpenRouter",
    shape("sk-or-v1-", (H, 64)),
    "openrouter_api_key",
    TH + "openrouter (sk-or-v1- + 64 hex)",
)
add(
    "langsmith_personal_key",
    "LangSmith",
    shape("lsv2_pt_", (H, 32), "_", (H, 10)),
    "langchain_api_key",
    TH + "langsmith (lsv2_pt_); LangSmith docs",
)
add(
    "langsmith_service_key",
    "LangSmith",
    shape("lsv2_sk_", (H, 32), "_", (H, 10)),
    "langsmith_api_key",
    TH + "langsmith (lsv2_sk_)",
)
add(
    "cohere_api_key",
    "Cohere",
    shape((A, 40)),
    "cohere_api_key|co_api_key",
    GL + "cohere-api-token (keyed)",
    False,
)
add("mistral_api_key", "Mistral", shape((A, 32)), "mistral_api_key", "Mistral docs: 32 alnum, keyed", False)
add(
    "deepseek_api_key",
    "DeepSeek",
    shape("sk-", (H, 32)),
    "deepseek_api_key",
    "DeepSeek docs: sk- + 32 hex",
    False,
)
add(
    "elevenlabs_api_key",
    "ElevenLabs",
    shape("sk_", (H, 48)),
    "elevenlabs_api_key",
    TH + "elevenlabs v2",
    False,
)
add(
    "assemblyai_api_key",
    "AssemblyAI",
    shape((H, 32)),
    "assemblyai_api_key",
    TH + "assemblyai (keyed hex32)",
    False,
)
add("deepgram_api_key", "Deepgram", shape((H, 40)), "deepgram_api_key", TH + "deepgram (keyed hex40)", False)
add(
    "wandb_api_key",
    "Weights & Biases",
    shape((H, 40)),
    "wandb_api_key",
    "wandb docs: 40 hex, WANDB_API_KEY",
    False,
)

# Cloud
add("aws_access_key_id", "AWS", shape("AKIA", (B32, 16)), "aws_access_key_id", GL + "aws-access-token (AKIA)")
add(
    "aws_temporary_access_key_id",
    "AWS",
    shape("ASIA", (B32, 16)),
    "aws_access_key_id",
    GL + "aws-access-token (ASIA, STS)",
)
add("aws_abia_key_id", "AWS", shape("ABIA", (B32, 16)), "aws_access_key_id", GL + "aws-access-token (ABIA)")
add("aws_acca_key_id", "AWS", shape("ACCA", (B32, 16)), "aws_access_key_id", GL + "aws-access-token (ACCA)")
add(
    "aws_secret_access_key",
    "AWS",
    shape((S, 40)),
    "aws_secret_access_key|aws_secret_key",
    "AWS docs: 40-char base64 secret access key, keyed",
    False,
)
add(
    "aws_session_token",
    "AWS",
    gen_aws_session,
    "aws_session_token",
    "AWS STS session token: base64 starting IQoJb3JpZ2luX2Vj",
)
add(
    "aws_mws_key",
    "Amazon MWS",
    one(lambda r: "amzn.mws." + uuid4(r)),
    "mws_auth_token",
    "gitleaks legacy rule AWS MWS key (amzn.mws.<uuid>)",
)
add("gcp_api_key", "Google Cloud", shape("AIza", (W, 35)), "google_api_key|gcp_api_key", GL + "gcp-api-key")
add(
    "gcp_service_account_key",
    "Google Cloud",
    gen_gcp_sa_json,
    "google_application_credentials_json",
    "GCP service account JSON (private_key PEM)",
    True,
    "raw",
)
add(
    "google_oauth_client_secret",
    "Google",
    shape("GOCSPX-", (W, 28)),
    "google_client_secret",
    TH + "gcpoauth (GOCSPX- + 28)",
)
add(
    "google_oauth_access_token",
    "Google",
    shape("ya29.", (W, 120, 180)),
    "google_access_token",
    "Google OAuth docs: access tokens start ya29.",
)
add(
    "google_oauth_refresh_token",
    "Google",
    shape("1//0", (W, 99)),
    "google_refresh_token",
    "Google OAuth refresh token (1//0 prefix), keyed",
    False,
)
add(
    "azure_ad_client_secret",
    "Azure",
    gen_azure_ad_secret,
    "azure_client_secret",
    GL + "azure-ad-client-secret (3 chars, digit, Q~, 34)",
)
add(
    "azure_storage_connection_string",
    "Azure",
    gen_azure_storage,
    "azure_storage_connection_string",
    "Azure docs: storage connection string AccountKey (88 base64)",
    True,
    "url",
)
add(
    "azure_cosmosdb_connection_string",
    "Azure",
    gen_azure_cosmos,
    "cosmos_connection_string",
    "Azure Cosmos DB connection string AccountKey",
    True,
    "url",
)
add(
    "azure_servicebus_connection_string",
    "Azure",
    gen_azure_servicebus,
    "servicebus_connection_string",
    "Azure Service Bus SharedAccessKey",
    True,
    "url",
)
add("azure_sas_url", "Azure", gen_azure_sas, "blob_sas_url", "Azure SAS token (sig= HMAC)", True, "url")
add(
    "azure_devops_pat",
    "Azure DevOps",
    shape((LOWER + "234567", 52)),
    "azure_devops_pat|ado_pat",
    TH + "azuredevopspersonalaccesstoken (52 base32), keyed",
    False,
)
add(
    "alibaba_access_key_id",
    "Alibaba Cloud",
    shape("LTAI", (A, 20)),
    "alibaba_access_key_id",
    GL + "alibaba-access-key-id",
)
add(
    "alibaba_secret_key",
    "Alibaba Cloud",
    shape((A, 30)),
    "alibaba_access_key_secret",
    GL + "alibaba-secret-key (keyed)",
    False,
)
add(
    "tencent_secret_id",
    "Tencent Cloud",
    shape("AKID", (A, 32)),
    "tencentcloud_secret_id",
    TH + "tencent (AKID+32)",
)
add(
    "ibm_cloud_api_key",
    "IBM Cloud",
    shape((W, 44)),
    "ibmcloud_api_key",
    TH + "ibmclouduserkey (keyed 44)",
    False,
)
add(
    "digitalocean_pat",
    "DigitalOcean",
    shape("dop_v1_", (H, 64)),
    "digitalocean_token",
    GL + "digitalocean-pat",
)
add(
    "digitalocean_oauth_token",
    "DigitalOcean",
    shape("doo_v1_", (H, 64)),
    "do_oauth_token",
    GL + "digitalocean-access-token",
)
add(
    "digitalocean_refresh_token",
    "DigitalOcean",
    shape("dor_v1_", (H, 64)),
    "do_refresh_token",
    GL + "digitalocean-refresh-token",
)
add(
    "heroku_api_key",
    "Heroku",
    one(lambda r: uuid4(r)),
    "heroku_api_key",
    GL + "heroku-api-key (keyed uuid)",
    False,
)
add("heroku_api_key_v2", "Heroku", shape("HRKU-AA", (W, 58)), "heroku_api_key", GL + "heroku-api-key-v2")
add("flyio_token", "Fly.io", shape("fo1_", (W, 43)), "fly_api_token", GL + "flyio-access-token (fo1_)")
add(
    "flyio_macaroon",
    "Fly.io",
    shape("fm2_", (S, 120, 200)),
    "fly_api_token",
    GL + "flyio-access-token (fm2_)",
)
add(
    "cloudflare_api_token",
    "Cloudflare",
    shape((W, 40)),
    "cloudflare_api_token",
    GL + "cloudflare-api-key (keyed)",
    False,
)
add(
    "cloudflare_global_api_key",
    "Cloudflare",
    shape((H, 37)),
    "cloudflare_api_key",
    GL + "cloudflare-global-api-key (keyed hex37)",
    False,
)
add(
    "cloudflare_origin_ca_key",
    "Cloudflare",
    shape("v1.0-", (H, 24), "-", (H, 146)),
    "cloudflare_origin_ca_key",
    GL + "cloudflare-origin-ca-key",
)
add(
    "netlify_access_token",
    "Netlify",
    shape((W, 43)),
    "netlify_auth_token",
    GL + "netlify-access-token (keyed)",
    False,
)
add("vercel_token", "Vercel", shape((A, 24)), "vercel_token", TH + "vercel (keyed 24)", False)
add("supabase_pat", "Supabase", shape("sbp_", (H, 40)), "supabase_access_token", TH + "supabasetoken (sbp_)")
add(
    "planetscale_token",
    "PlanetScale",
    shape("pscale_tkn_", (W, 43)),
    "planetscale_service_token",
    GL + "planetscale-api-token",
)
add(
    "planetscale_oauth_token",
    "PlanetScale",
    shape("pscale_oauth_", (W, 43)),
    "planetscale_oauth",
    GL + "planetscale-oauth-token",
)
add(
    "planetscale_password",
    "PlanetScale",
    shape("pscale_pw_", (W, 43)),
    "database_password",
    GL + "planetscale-password",
)
add("scalingo_token", "Scalingo", shape("tk-us-", (W, 48)), "scalingo_api_token", GL + "scalingo-api-token")
add(
    "openshift_user_token",
    "OpenShift",
    shape("sha256~", (W, 43)),
    "openshift_token",
    GL + "openshift-user-token",
)
add("linode_token", "Linode", shape((H, 64)), "linode_token", TH + "linode (keyed hex64)", False)
add("vultr_api_key", "Vultr", shape((U, 36)), "vultr_api_key", TH + "vultr (keyed 36)", False)
add("hetzner_token", "Hetzner", shape((A, 64)), "hcloud_token", TH + "hetzner (keyed 64)", False)
add(
    "terraform_cloud_token",
    "HashiCorp",
    shape((L, 14), ".atlasv1.", (W, 67)),
    "tfe_token",
    GL + "hashicorp-tf-api-token (.atlasv1.)",
)
add(
    "vault_service_token",
    "HashiCorp Vault",
    shape("hvs.", (W, 90, 110)),
    "vault_token",
    GL + "vault-service-token (hvs.); Vault docs token prefixes",
)
add(
    "vault_batch_token",
    "HashiCorp Vault",
    shape("hvb.", (W, 140, 180)),
    "vault_token",
    GL + "vault-batch-token",
)
add(
    "vault_recovery_token",
    "HashiCorp Vault",
    shape("hvr.", (W, 90, 110)),
    "vault_recovery_token",
    "Vault docs: hvr. recovery token prefix",
)
add(
    "vault_legacy_token",
    "HashiCorp Vault",
    shape("s.", (A, 24)),
    "vault_token",
    GL + "vault-service-token (legacy s.+24), keyed",
    False,
)
add(
    "consul_acl_token",
    "HashiCorp Consul",
    one(lambda r: uuid4(r)),
    "consul_http_token",
    "Consul docs: ACL token is a UUID, keyed",
    False,
)

# Source hosting, CI, registries
add(
    "github_pat_classic",
    "GitHub",
    crc_token("ghp_"),
    "github_token|gh_token",
    "GitHub blog 2021-04-05 token formats: ghp_ + 30 + base62 CRC32(6)",
)
add(
    "github_oauth_token",
    "GitHub",
    crc_token("gho_"),
    "github_oauth_token",
    "GitHub token formats: gho_ + CRC32",
)
add(
    "github_user_to_server_token",
    "GitHub",
    crc_token("ghu_"),
    "github_app_user_token",
    "GitHub token formats: ghu_ + CRC32",
)
add(
    "github_server_to_server_token",
    "GitHub",
    crc_token("ghs_"),
    "github_installation_token",
    "GitHub token formats: ghs_ + CRC32",
)
add(
    "github_refresh_token",
    "GitHub",
    crc_token("ghr_"),
    "github_refresh_token",
    "GitHub token formats: ghr_ + CRC32",
)
add(
    "github_fine_grained_pat",
    "GitHub",
    shape("github_pat_", (A, 22), "_", (A, 59)),
    "github_token",
    GL + "github-fine-grained-pat",
)
add(
    "gitlab_pat",
    "GitLab",
    shape("glpat-", (W, 20)),
    "gitlab_token|gitlab_private_token",
    GL + "gitlab-pat; GitLab docs token prefixes",
)
add(
    "gitlab_pat_routable",
    "GitLab",
    shape("glpat-", (W, 36, 44), ".01", (L, 7)),
    "gitlab_token",
    GL + "gitlab-pat-routable",
)
add(
    "gitlab_deploy_token",
    "GitLab",
    shape("gldt-", (W, 20)),
    "gitlab_deploy_token",
    GL + "gitlab-deploy-token",
)
add(
    "gitlab_runner_token",
    "GitLab",
    shape("glrt-", (W, 20)),
    "runner_token",
    GL + "gitlab-runner-authentication-token",
)
add(
    "gitlab_runner_registration_token",
    "GitLab",
    shape("GR1348941", (W, 20)),
    "registration_token",
    GL + "gitlab-rrt",
)
add("gitlab_pipeline_trigger_token", "GitLab", shape("glptt-", (H, 40)), "trigger_token", GL + "gitlab-ptt")
add("gitlab_feed_token", "GitLab", shape("glft-", (W, 20)), "gitlab_feed_token", GL + "gitlab-feed-token")
add(
    "gitlab_incoming_mail_token",
    "GitLab",
    shape("glimt-", (W, 25)),
    "incoming_email_token",
    GL + "gitlab-incoming-mail-token",
)
add(
    "gitlab_agent_token",
    "GitLab",
    shape("glagent-", (W, 50)),
    "agent_token",
    GL + "gitlab-kubernetes-agent-token",
)
add(
    "gitlab_oauth_app_secret",
    "GitLab",
    shape("gloas-", (W, 64)),
    "gitlab_app_secret",
    GL + "gitlab-oauth-app-secret",
)
add("gitlab_scim_token", "GitLab", shape("glsoat-", (W, 20)), "scim_token", GL + "gitlab-scim-token")
add(
    "gitlab_feature_flag_token",
    "GitLab",
    shape("glffct-", (W, 20)),
    "unleash_instance_token",
    GL + "gitlab-feature-flag-client-token",
)
add(
    "gitlab_ci_build_token",
    "GitLab",
    shape("glcbt-", (A, 2), "_", (W, 20)),
    "ci_job_token",
    GL + "gitlab-cicd-job-token",
)
add(
    "bitbucket_app_password",
    "Bitbucket",
    shape("ATBB", (A, 28), (HU, 8)),
    "bitbucket_app_password",
    TH + "bitbucketapppassword (ATBB)",
)
add(
    "atlassian_api_token",
    "Atlassian",
    gen_atlassian,
    "jira_api_token|confluence_api_token",
    GL + "atlassian-api-token (ATATT3 + 186)",
)
add(
    "npm_access_token",
    "npm",
    crc_token("npm_"),
    "npm_token",
    "GitHub blog 2021-09-23 npm token format: npm_ + 30 + base62 CRC32(6)",
)
add(
    "pypi_upload_token",
    "PyPI",
    gen_pypi(b"pypi.org"),
    "pypi_api_token|twine_password",
    GL + "pypi-upload-token (macaroon, pypi-AgEIcHlwaS5vcmc)",
)
add(
    "testpypi_upload_token",
    "PyPI",
    gen_pypi(b"test.pypi.org"),
    "testpypi_token",
    "PyPI macaroon for test.pypi.org (pypi-AgENdGVzdC5weXBpLm9yZw)",
)
add(
    "rubygems_api_key", "RubyGems", shape("rubygems_", (H, 48)), "gem_host_api_key", GL + "rubygems-api-token"
)
add("nuget_api_key", "NuGet", shape("oy2", (L, 43)), "nuget_api_key", TH + "nugetapikey (oy2 + 43)")
add(
    "dockerhub_pat",
    "Docker",
    shape("dckr_pat_", (W, 27)),
    "docker_hub_token|dockerhub_password",
    "Docker docs: personal access tokens dckr_pat_",
)
add(
    "dockerhub_org_token",
    "Docker",
    shape("dckr_oat_", (W, 32)),
    "docker_org_token",
    "Docker docs: organization access tokens dckr_oat_",
)
add("clojars_token", "Clojars", shape("CLOJARS_", (L, 60)), "clojars_password", GL + "clojars-api-token")
add(
    "jfrog_api_key", "JFrog", shape("AKCp", (A, 69)), "artifactory_api_key", GL + "artifactory-api-key (AKCp)"
)
add(
    "jfrog_reference_token",
    "JFrog",
    shape("cmVmd", (A, 59)),
    "artifactory_token",
    GL + "artifactory-reference-token (cmVmd = base64 'ref')",
)
add(
    "sonarqube_user_token",
    "SonarQube",
    shape("squ_", (H, 40)),
    "sonar_token",
    "SonarQube docs: user token squ_",
)
add(
    "sonarqube_project_token",
    "SonarQube",
    shape("sqp_", (H, 40)),
    "sonar_token",
    "SonarQube docs: project analysis token sqp_",
)
add(
    "sonarqube_global_token",
    "SonarQube",
    shape("sqa_", (H, 40)),
    "sonar_token",
    "SonarQube docs: global analysis token sqa_",
)
add(
    "sonarcloud_token",
    "SonarCloud",
    shape((H, 40)),
    "sonar_login",
    GL + "sonar-api-token (keyed hex40)",
    False,
)
add("snyk_token", "Snyk", one(lambda r: uuid4(r)), "snyk_token", GL + "snyk-api-token (keyed uuid)", False)
add(
    "codecov_token",
    "Codecov",
    one(lambda r: uuid4(r)),
    "codecov_token",
    GL + "codecov-access-token (keyed)",
    False,
)
add(
    "circleci_pat",
    "CircleCI",
    shape("CCIPAT_", (A, 22), "_", (H, 40)),
    "circle_token",
    TH + "circleci v2 (CCIPAT_)",
)
add(
    "travis_token",
    "Travis CI",
    shape((A, 22)),
    "travis_api_token",
    GL + "travisci-access-token (keyed 22)",
    False,
)
add("droneci_token", "Drone CI", shape((L, 32)), "drone_token", GL + "droneci-access-token (keyed 32)", False)
add(
    "buildkite_api_token",
    "Buildkite",
    shape("bkua_", (H, 40)),
    "buildkite_api_token",
    TH + "buildkite v2 (bkua_ + 40 hex)",
)
add(
    "jenkins_api_token",
    "Jenkins",
    shape("11", (H, 32)),
    "jenkins_api_token",
    TH + "jenkins (11 + 32 hex, keyed)",
    False,
)
add("gitea_token", "Gitea", shape((H, 40)), "gitea_token", "Gitea docs: access token 40 hex, keyed", False)
add(
    "octopus_deploy_api_key",
    "Octopus Deploy",
    shape("API-", (U, 26)),
    "octopus_api_key",
    GL + "octopus-deploy-api-key",
)
add("pulumi_access_token", "Pulumi", shape("pul-", (H, 40)), "pulumi_access_token", GL + "pulumi-api-token")
add("prefect_api_key", "Prefect", shape("pnu_", (A, 36)), "prefect_api_key", GL + "prefect-api-token")
add(
    "postman_api_key",
    "Postman",
    shape("PMAK-", (H, 24), "-", (H, 34)),
    "postman_api_key",
    GL + "postman-api-token",
)
add("readme_api_key", "ReadMe", shape("rdme_", (L, 70)), "readme_api_key", GL + "readme-api-token")
add("infracost_api_key", "Infracost", shape("ico-", (A, 32)), "infracost_api_key", GL + "infracost-api-token")
add("doppler_personal_token", "Doppler", shape("dp.pt.", (A, 43)), "doppler_token", GL + "doppler-api-token")
add(
    "doppler_service_token",
    "Doppler",
    shape("dp.st.", (L, 3, 8), ".", (A, 40)),
    "doppler_token",
    "Doppler docs: service token dp.st.<config>.<40>",
)
add(
    "doppler_cli_token",
    "Doppler",
    shape("dp.ct.", (A, 43)),
    "doppler_token",
    "Doppler docs: CLI token dp.ct.",
)
add(
    "doppler_scim_token",
    "Doppler",
    shape("dp.scim.", (A, 43)),
    "doppler_scim_token",
    "Doppler docs: dp.scim.",
)
add(
    "doppler_audit_token",
    "Doppler",
    shape("dp.audit.", (A, 43)),
    "doppler_audit_token",
    "Doppler docs: dp.audit.",
)
add(
    "harness_pat",
    "Harness",
    shape("pat.", (W, 22), ".", (A, 24), ".", (A, 20)),
    "harness_api_key",
    GL + "harness-api-key",
)
add("figma_pat", "Figma", shape("figd_", (W, 40)), "figma_token", "Figma docs: personal access tokens figd_")
add("linear_api_key", "Linear", shape("lin_api_", (A, 40)), "linear_api_key", GL + "linear-api-key")
add(
    "linear_client_secret",
    "Linear",
    shape((H, 32)),
    "linear_client_secret",
    GL + "linear-client-secret (keyed)",
    False,
)
add(
    "notion_token",
    "Notion",
    shape("ntn_", (DIGITS, 11), (A, 35)),
    "notion_token",
    GL + "notion-api-token (ntn_)",
)
add(
    "notion_legacy_secret",
    "Notion",
    shape("secret_", (A, 43)),
    "notion_api_key",
    TH + "notion (secret_ + 43); Notion docs",
)
add(
    "airtable_pat",
    "Airtable",
    shape("pat", (A, 14), ".", (H, 64)),
    "airtable_token",
    TH + "airtablepersonalaccesstoken (pat<14>.<64 hex>)",
)
add(
    "airtable_api_key",
    "Airtable",
    shape("key", (A, 14)),
    "airtable_api_key",
    GL + "airtable-api-key (keyed)",
    False,
)
add(
    "asana_pat",
    "Asana",
    shape("1/", (DIGITS, 16), ":", (H, 32)),
    "asana_access_token",
    TH + "asanapersonalaccesstoken (1/<id>:<32 hex>)",
    False,
)
add(
    "clickup_pat",
    "ClickUp",
    shape("pk_", (DIGITS, 8), "_", (U, 32)),
    "clickup_api_token",
    TH + "clickuppersonaltoken (pk_<digits>_<32>)",
)
add("frameio_token", "Frame.io", shape("fio-u-", (W, 64)), "frameio_token", GL + "frameio-api-token")
add("typeform_token", "Typeform", shape("tfp_", (W, 59)), "typeform_token", GL + "typeform-api-token")
add("adobe_client_secret", "Adobe", shape("p8e-", (A, 32)), "adobe_client_secret", GL + "adobe-client-secret")
add(
    "defined_networking_token",
    "Defined Networking",
    shape("dnkey-", (W, 26), "-", (W, 52)),
    "dnkey",
    GL + "defined-networking-api-token",
)
add(
    "settlemint_pat",
    "SettleMint",
    shape("sm_pat_", (A, 16)),
    "settlemint_token",
    GL + "settlemint-personal-access-token",
)
add(
    "clickhouse_cloud_secret",
    "ClickHouse",
    shape("4b1d", (A, 38)),
    "clickhouse_key_secret",
    GL + "clickhouse-cloud-api-secret-key",
)
add(
    "intra42_client_secret",
    "42 Intra",
    shape("s-s4t2ud-", (H, 64)),
    "intra_client_secret",
    GL + "intra42-client-secret",
)
add(
    "maxmind_license_key",
    "MaxMind",
    shape((A, 6), "_", (A, 29), "_mmk"),
    "maxmind_license_key",
    GL + "maxmind-license-key",
)

# Observability
add(
    "dynatrace_api_token",
    "Dynatrace",
    shape("dt0c01.", (U, 24), ".", (U, 64)),
    "dt_api_token",
    GL + "dynatrace-api-token",
)
add(
    "newrelic_user_key",
    "New Relic",
    shape("NRAK-", (U, 27)),
    "new_relic_api_key",
    GL + "new-relic-user-api-key",
)
add(
    "newrelic_insert_key",
    "New Relic",
    shape("NRII-", (W, 32)),
    "new_relic_insert_key",
    GL + "new-relic-insert-key",
)
add(
    "newrelic_browser_key",
    "New Relic",
    shape("NRJS-", (H, 19)),
    "new_relic_browser_key",
    GL + "new-relic-browser-api-token",
)
add(
    "newrelic_license_key",
    "New Relic",
    shape((H, 36), "NRAL"),
    "new_relic_license_key",
    "New Relic docs: ingest license key, 40 chars ending NRAL",
)
add(
    "datadog_api_key",
    "Datadog",
    shape((H, 32)),
    "dd_api_key|datadog_api_key",
    "Datadog docs: API key 32 hex, keyed",
    False,
)
add(
    "datadog_app_key",
    "Datadog",
    shape((H, 40)),
    "dd_app_key|datadog_app_key",
    GL + "datadog-access-token (keyed 40)",
    False,
)
add("sentry_user_token", "Sentry", shape("sntryu_", (H, 64)), "sentry_auth_token", GL + "sentry-user-token")
add(
    "sentry_org_token",
    "Sentry",
    gen_sentry_org,
    "sentry_auth_token",
    GL + "sentry-org-token (sntrys_ + base64 JSON)",
)
add(
    "grafana_cloud_token", "Grafana", gen_grafana_cloud, "grafana_cloud_token", GL + "grafana-cloud-api-token"
)
add(
    "grafana_service_account_token",
    "Grafana",
    shape("glsa_", (A, 32), "_", (H, 8)),
    "grafana_sa_token",
    GL + "grafana-service-account-token",
)
add(
    "grafana_api_key_legacy",
    "Grafana",
    gen_grafana_legacy,
    "grafana_api_key",
    GL + "grafana-api-key (base64 JSON eyJrIjoi)",
)
add("honeycomb_api_key", "Honeycomb", shape((H, 32)), "honeycomb_api_key", TH + "honeycomb (keyed)", False)
add(
    "rollbar_access_token",
    "Rollbar",
    shape((H, 32)),
    "rollbar_access_token",
    TH + "rollbar (keyed hex32)",
    False,
)
add("bugsnag_api_key", "Bugsnag", shape((H, 32)), "bugsnag_api_key", TH + "bugsnag (keyed hex32)", False)
add(
    "sumologic_access_key",
    "Sumo Logic",
    shape((A, 64)),
    "sumo_access_key",
    GL + "sumologic-access-token (keyed)",
    False,
)
add(
    "launchdarkly_sdk_key",
    "LaunchDarkly",
    one(lambda r: "sdk-" + uuid4(r)),
    "launchdarkly_sdk_key",
    GL + "launchdarkly-access-token; LaunchDarkly docs sdk-<uuid>",
    False,
)
add(
    "pagerduty_api_key",
    "PagerDuty",
    shape((W, 20)),
    "pagerduty_token",
    TH + "pagerdutyapikey (keyed 20)",
    False,
)
add(
    "opsgenie_api_key",
    "Opsgenie",
    one(lambda r: uuid4(r)),
    "opsgenie_api_key",
    TH + "opsgenie (keyed uuid)",
    False,
)
add(
    "onepassword_service_account_token",
    "1Password",
    gen_onepassword_sa,
    "op_service_account_token",
    GL + "1password-service-account-token (ops_eyJ)",
)
add("onepassword_secret_key", "1Password", shape("A3-", (U, 6), "-", (U, 6), "-", (U, 5), "-", (U, 5), "-", (U, 5),
    "-", (U, 5)), "op_secret_key", GL + "1password-secret-key")  # fmt: skip
add("age_secret_key", "age", shape("AGE-SECRET-KEY-1", (BECH32, 58)), "sops_age_key", GL + "age-secret-key")
add(
    "tailscale_auth_key",
    "Tailscale",
    shape("tskey-auth-k", (A, 11), "CNTRL-", (A, 33)),
    "ts_authkey",
    "Tailscale docs: auth keys tskey-auth-",
)
add(
    "tailscale_api_key",
    "Tailscale",
    shape("tskey-api-k", (A, 11), "CNTRL-", (A, 33)),
    "tailscale_api_key",
    "Tailscale docs: API access tokens tskey-api-",
)
add(
    "ngrok_authtoken",
    "ngrok",
    shape("2", (A, 26), "_", (A, 21)),
    "ngrok_authtoken",
    TH + "ngrok (keyed)",
    False,
)
add(
    "okta_api_token",
    "Okta",
    shape("00", (W, 40)),
    "okta_api_token",
    GL + "okta-access-token (00 + 40, keyed)",
    False,
)
add(
    "auth0_client_secret", "Auth0", shape((W, 64)), "auth0_client_secret", TH + "auth0oauth (keyed 64)", False
)

# Messaging, e-mail, social
add(
    "twilio_api_key",
    "Twilio",
    shape("SK", (H, 32)),
    "twilio_api_key_sid",
    GL + "twilio-api-key (SK + 32 hex)",
)
add("twilio_auth_token", "Twilio", shape((H, 32)), "twilio_auth_token", TH + "twilio (keyed hex32)", False)
add(
    "sendgrid_api_key",
    "SendGrid",
    shape("SG.", (W, 22), ".", (W, 43)),
    "sendgrid_api_key",
    GL + "sendgrid-api-token; SendGrid docs SG.<22>.<43>",
)
add(
    "brevo_api_key",
    "Brevo",
    shape("xkeysib-", (H, 64), "-", (A, 16)),
    "brevo_api_key|sendinblue_api_key",
    GL + "sendinblue-api-token",
)
add(
    "brevo_smtp_key",
    "Brevo",
    shape("xsmtpsib-", (H, 64), "-", (A, 16)),
    "smtp_key",
    "Brevo docs: SMTP key xsmtpsib-",
)
add(
    "mailgun_api_key",
    "Mailgun",
    shape("key-", (H, 32)),
    "mailgun_api_key",
    GL + "mailgun-private-api-token (keyed)",
    False,
)
add(
    "mailgun_signing_key",
    "Mailgun",
    shape((H, 32), "-", (H, 8), "-", (H, 8)),
    "mailgun_webhook_signing_key",
    GL + "mailgun-signing-key (keyed)",
    False,
)
add(
    "mailchimp_api_key",
    "Mailchimp",
    shape((H, 32), "-us", (DIGITS, 2)),
    "mailchimp_api_key",
    GL + "mailchimp-api-key (hex32-usNN)",
)
add(
    "mailjet_secret_key",
    "Mailjet",
    shape((H, 32)),
    "mailjet_secret_key",
    TH + "mailjetbasicauth (keyed)",
    False,
)
add(
    "postmark_server_token",
    "Postmark",
    one(lambda r: uuid4(r)),
    "postmark_server_token",
    TH + "postmark (keyed uuid)",
    False,
)
add(
    "resend_api_key",
    "Resend",
    shape("re_", (A, 8), "_", (A, 24)),
    "resend_api_key",
    TH + "resend (re_, keyed)",
    False,
)
add(
    "messagebird_api_key",
    "MessageBird",
    shape((L, 25)),
    "messagebird_api_key",
    GL + "messagebird-api-token (keyed)",
    False,
)
add(
    "vonage_api_secret",
    "Vonage",
    shape((A, 16)),
    "vonage_api_secret|nexmo_api_secret",
    TH + "nexmoapikey (keyed)",
    False,
)
add("plivo_auth_token", "Plivo", shape((A, 40)), "plivo_auth_token", TH + "plivo (keyed 40)", False)
add(
    "slack_bot_token",
    "Slack",
    shape("xoxb-", (DIGITS, 11, 12), "-", (DIGITS, 13), "-", (A, 24)),
    "slack_bot_token",
    GL + "slack-bot-token; Slack docs token types",
)
add(
    "slack_user_token",
    "Slack",
    shape("xoxp-", (DIGITS, 11), "-", (DIGITS, 11), "-", (DIGITS, 13), "-", (H, 32)),
    "slack_user_token",
    GL + "slack-user-token",
)
add(
    "slack_app_token",
    "Slack",
    shape("xapp-1-A", (U, 10), "-", (DIGITS, 13), "-", (H, 64)),
    "slack_app_token",
    GL + "slack-app-token",
)
add(
    "slack_config_token",
    "Slack",
    shape("xoxe.xoxp-1-", (A, 164)),
    "slack_config_token",
    GL + "slack-config-access-token",
)
add(
    "slack_config_refresh_token",
    "Slack",
    shape("xoxe-1-", (A, 146)),
    "slack_refresh_token",
    GL + "slack-config-refresh-token",
)
add(
    "slack_legacy_workspace_token",
    "Slack",
    shape("xoxa-2-", (A, 40)),
    "slack_token",
    GL + "slack-legacy-workspace-token",
)
add(
    "slack_webhook_url",
    "Slack",
    gen_slack_webhook,
    "slack_webhook_url",
    GL + "slack-webhook-url",
    True,
    "url",
)
add(
    "slack_workflow_trigger_url",
    "Slack",
    gen_slack_trigger,
    "slack_trigger_url",
    GL + "slack-webhook-url (triggers)",
    True,
    "url",
)
add(
    "discord_webhook_url",
    "Discord",
    gen_discord_webhook,
    "discord_webhook_url",
    "Discord docs: webhook URL /api/webhooks/<id>/<token>",
    True,
    "url",
)
add(
    "discord_bot_token",
    "Discord",
    gen_discord_bot,
    "discord_bot_token|discord_token",
    TH + "discordbottoken (base64 id . 6 . 38), keyed",
    False,
)
add(
    "discord_client_secret",
    "Discord",
    shape((W, 32)),
    "discord_client_secret",
    GL + "discord-client-secret (keyed)",
    False,
)
add(
    "telegram_bot_token",
    "Telegram",
    shape((DIGITS, 9, 10), ":AA", (W, 33)),
    "telegram_bot_token",
    GL + "telegram-bot-api-token; Telegram Bot API docs",
)
add(
    "teams_webhook_url",
    "Microsoft Teams",
    gen_teams_webhook,
    "teams_webhook_url",
    GL + "microsoft-teams-webhook",
    True,
    "url",
)
add(
    "mattermost_token",
    "Mattermost",
    shape((L, 26)),
    "mattermost_token",
    GL + "mattermost-access-token (keyed)",
    False,
)
add("zoom_client_secret", "Zoom", shape((A, 32)), "zoom_client_secret", TH + "zoom (keyed)", False)
add(
    "twitter_api_secret",
    "Twitter",
    shape((A, 50)),
    "twitter_api_secret|twitter_consumer_secret",
    GL + "twitter-api-secret (keyed 50)",
    False,
)
add(
    "twitter_access_token",
    "Twitter",
    shape((DIGITS, 19), "-", (A, 31)),
    "twitter_access_token",
    GL + "twitter-access-token (keyed)",
    False,
)
add(
    "twitter_bearer_token",
    "Twitter",
    shape("A" * 22, (A, 60), "%3D", (A, 40)),
    "twitter_bearer_token",
    GL + "twitter-bearer-token (keyed)",
    False,
)
add(
    "facebook_app_secret",
    "Facebook",
    shape((H, 32)),
    "facebook_app_secret|fb_app_secret",
    GL + "facebook-secret (keyed hex32)",
    False,
)
add(
    "facebook_page_access_token",
    "Facebook",
    shape("EAA", ("CM", 1), (A, 160, 200)),
    "fb_page_token",
    GL + "facebook-page-access-token (EAAC/EAAM)",
)
add(
    "linkedin_client_secret",
    "LinkedIn",
    shape((A, 16)),
    "linkedin_client_secret",
    GL + "linkedin-client-secret (keyed)",
    False,
)
add(
    "firebase_fcm_server_key",
    "Firebase",
    gen_firebase_fcm,
    "fcm_server_key",
    "Firebase legacy FCM server key (AAAA...:APA91b...)",
)
add(
    "recaptcha_secret_key",
    "Google reCAPTCHA",
    shape("6L", (W, 38)),
    "recaptcha_secret_key",
    "reCAPTCHA docs: keys start 6L, keyed",
    False,
)
add(
    "pusher_app_secret", "Pusher", shape((H, 20)), "pusher_app_secret", TH + "pusherchannelkey (keyed)", False
)

# Payments, commerce, finance
add(
    "stripe_live_secret_key",
    "Stripe",
    shape("sk_live_", (A, 24, 99)),
    "stripe_secret_key|stripe_api_key",
    GL + "stripe-access-token; Stripe docs API keys",
)
add(
    "stripe_test_secret_key",
    "Stripe",
    shape("sk_test_", (A, 24, 99)),
    "stripe_secret_key",
    GL + "stripe-access-token (sk_test_)",
)
add(
    "stripe_live_restricted_key",
    "Stripe",
    shape("rk_live_", (A, 24, 99)),
    "stripe_restricted_key",
    GL + "stripe-access-token (rk_live_)",
)
add(
    "stripe_test_restricted_key",
    "Stripe",
    shape("rk_test_", (A, 24, 99)),
    "stripe_restricted_key",
    GL + "stripe-access-token (rk_test_)",
)
add(
    "stripe_webhook_secret",
    "Stripe",
    shape("whsec_", (A, 32)),
    "stripe_webhook_secret",
    "Stripe docs: webhook signing secret whsec_",
)
add(
    "square_access_token",
    "Square",
    shape("EAAA", (W, 60)),
    "square_access_token",
    GL + "square-access-token (EAAA)",
)
add(
    "square_legacy_access_token",
    "Square",
    shape("sq0atp-", (W, 22)),
    "square_access_token",
    GL + "square-access-token (sq0atp-)",
)
add(
    "square_oauth_secret",
    "Square",
    shape("sq0csp-", (W, 43)),
    "square_application_secret",
    TH + "squareapp (sq0csp-)",
)
add(
    "braintree_access_token",
    "Braintree",
    shape("access_token$production$", (L, 16), "$", (H, 32)),
    "braintree_access_token",
    TH + "braintreepayments (access_token$production$)",
)
add(
    "paystack_secret_key",
    "Paystack",
    shape("sk_live_", (H, 40)),
    "paystack_secret_key",
    TH + "paystack (sk_live_ + 40 hex)",
)
add(
    "flutterwave_secret_key",
    "Flutterwave",
    shape("FLWSECK_TEST-", (H, 32), "-X"),
    "flw_secret_key",
    GL + "flutterwave-secret-key",
)
add(
    "flutterwave_encryption_key",
    "Flutterwave",
    shape("FLWSECK_TEST", (H, 12)),
    "flw_encryption_key",
    GL + "flutterwave-encryption-key",
    False,
)
add(
    "shopify_access_token",
    "Shopify",
    shape("shpat_", (H, 32)),
    "shopify_access_token",
    GL + "shopify-access-token",
)
add(
    "shopify_custom_app_token",
    "Shopify",
    shape("shpca_", (H, 32)),
    "shopify_access_token",
    GL + "shopify-custom-access-token",
)
add(
    "shopify_private_app_token",
    "Shopify",
    shape("shppa_", (H, 32)),
    "shopify_password",
    GL + "shopify-private-app-access-token",
)
add(
    "shopify_shared_secret",
    "Shopify",
    shape("shpss_", (H, 32)),
    "shopify_api_secret",
    GL + "shopify-shared-secret",
)
add(
    "plaid_access_token",
    "Plaid",
    one(lambda r: "access-production-" + uuid4(r)),
    "plaid_access_token",
    GL + "plaid-api-token (keyed)",
    False,
)
add("plaid_secret", "Plaid", shape((L, 30)), "plaid_secret", GL + "plaid-secret-key (keyed 30)", False)
add(
    "gocardless_token",
    "GoCardless",
    shape("live_", (W, 40)),
    "gocardless_access_token",
    GL + "gocardless-api-token (keyed)",
    False,
)
add("duffel_token", "Duffel", shape("duffel_live_", (W, 43)), "duffel_access_token", GL + "duffel-api-token")
add("easypost_api_key", "EasyPost", shape("EZAK", (A, 54)), "easypost_api_key", GL + "easypost-api-token")
add(
    "easypost_test_key",
    "EasyPost",
    shape("EZTK", (A, 54)),
    "easypost_test_api_key",
    GL + "easypost-test-api-token",
)
add("shippo_token", "Shippo", shape("shippo_live_", (H, 40)), "shippo_api_token", GL + "shippo-api-token")
add("lob_api_key", "Lob", shape("live_", (H, 35)), "lob_api_key", GL + "lob-api-key (keyed)", False)
add("binance_api_secret", "Binance", shape((A, 64)), "binance_api_secret", TH + "binance (keyed 64)", False)
add("etherscan_api_key", "Etherscan", shape((U, 34)), "etherscan_api_key", TH + "etherscan (keyed 34)", False)
add(
    "infura_api_secret", "Infura", shape((H, 32)), "infura_project_secret", TH + "infura (keyed hex32)", False
)
add(
    "ethereum_private_key",
    "Ethereum",
    shape("0x", (H, 64)),
    "wallet_private_key|deployer_private_key",
    "secp256k1 private key, 32 bytes hex, keyed",
    False,
)

# Content, CRM, productivity
add(
    "contentful_delivery_token",
    "Contentful",
    shape((W, 43)),
    "contentful_delivery_token",
    GL + "contentful-delivery-api-token (keyed)",
    False,
)
add(
    "contentful_pat",
    "Contentful",
    shape("CFPAT-", (W, 43)),
    "contentful_management_token",
    TH + "contentfulpersonalaccesstoken (CFPAT-)",
)
add(
    "hubspot_private_app_token",
    "HubSpot",
    one(lambda r: "pat-" + r.choice(["na1", "eu1"]) + "-" + uuid4(r)),
    "hubspot_access_token",
    TH + "hubspot v2 (pat-na1-<uuid>)",
)
add(
    "hubspot_api_key_legacy",
    "HubSpot",
    one(lambda r: uuid4(r).upper()),
    "hubspot_api_key",
    GL + "hubspot-api-key (keyed uuid)",
    False,
)
add(
    "intercom_access_token",
    "Intercom",
    shape((W, 59), "="),
    "intercom_access_token",
    GL + "intercom-api-key (keyed 60)",
    False,
)
add(
    "zendesk_api_token",
    "Zendesk",
    shape((A, 40)),
    "zendesk_api_token",
    GL + "zendesk-secret-key (keyed 40)",
    False,
)
add(
    "dropbox_long_lived_token",
    "Dropbox",
    shape((A, 11), "AAAAAAAAAA", (W, 43)),
    "dropbox_access_token",
    GL + "dropbox-long-lived-api-token (keyed)",
    False,
)
add(
    "dropbox_short_lived_token",
    "Dropbox",
    shape("sl.", (W, 135)),
    "dropbox_access_token",
    GL + "dropbox-short-lived-api-token (keyed)",
    False,
)
add("trello_api_token", "Trello", shape((H, 64)), "trello_token", TH + "trello (keyed hex64)", False)
add(
    "mapbox_secret_token",
    "Mapbox",
    gen_mapbox_secret,
    "mapbox_secret_token",
    "Mapbox docs: secret tokens sk.eyJ1Ijoi... (base64 JSON)",
)
add("yandex_api_key", "Yandex", shape("AQVN", (W, 36)), "yandex_api_key", GL + "yandex-api-key (AQVN)")
add(
    "yandex_aws_key",
    "Yandex",
    shape("YC", (W, 38)),
    "yandex_static_key",
    GL + "yandex-aws-access-token (keyed)",
    False,
)
add(
    "rapidapi_key", "RapidAPI", shape((W, 50)), "rapidapi_key", GL + "rapidapi-access-token (keyed 50)", False
)
add(
    "algolia_admin_key",
    "Algolia",
    shape((H, 32)),
    "algolia_admin_key|algolia_api_key",
    GL + "algolia-api-key (keyed)",
    False,
)
add("segment_write_key", "Segment", shape((A, 32)), "segment_write_key", TH + "segmentapikey (keyed)", False)
add("mixpanel_api_secret", "Mixpanel", shape((H, 32)), "mixpanel_api_secret", TH + "mixpanel (keyed)", False)
add(
    "confluent_api_secret",
    "Confluent",
    shape((A, 64)),
    "confluent_api_secret|kafka_sasl_password",
    GL + "confluent-secret-key (keyed 64)",
    False,
)
add("fastly_api_token", "Fastly", shape((W, 32)), "fastly_api_token", GL + "fastly-api-token (keyed)", False)

# Frameworks, JWT, generic name=value
add(
    "jwt",
    "JWT",
    gen_jwt,
    "jwt|id_token|session_jwt",
    GL + "jwt; RFC 7519 (base64url header.payload.signature)",
)
add("jwt_base64", "JWT", gen_jwt_base64, "encoded_jwt", GL + "jwt-base64 (ZXlK = base64 of eyJ)")
add(
    "django_secret_key",
    "Django",
    shape((L + "!@#$%^&*(-_=+)", 50)),
    "secret_key",
    "Django docs: SECRET_KEY, 50 chars from get_random_secret_key alphabet, keyed",
    False,
)
add(
    "django_insecure_secret_key",
    "Django",
    gen_django_insecure,
    "secret_key",
    "Django startproject: django-insecure- + 50 chars",
)
add(
    "rails_secret_key_base",
    "Rails",
    shape((H, 128)),
    "secret_key_base",
    "Rails docs: secret_key_base, 128 hex, keyed",
    False,
)
add(
    "flask_secret_key",
    "Flask",
    shape((H, 48)),
    "secret_key",
    "Flask docs: SECRET_KEY = secrets.token_hex(), keyed",
    False,
)
add(
    "laravel_app_key", "Laravel", gen_laravel_key, "app_key", "Laravel docs: APP_KEY=base64:<32 bytes>", False
)
add(
    "generic_password",
    "generic",
    gen_password,
    "db_password|password|smtp_password|admin_password|mysql_password|redis_password|ldap_bind_password",
    GL + "generic-api-key / database-password (keyed, entropy)",
    False,
)
add(
    "generic_api_key",
    "generic",
    shape((A, 32)),
    "api_key|apikey|x_api_key|service_api_key",
    GL + "generic-api-key (keyed)",
    False,
)
add(
    "generic_client_secret",
    "generic",
    shape((W, 40)),
    "client_secret|oauth_client_secret|app_secret",
    GL + "generic-api-key (keyed)",
    False,
)
add(
    "generic_access_token",
    "generic",
    shape((A, 40)),
    "access_token|auth_token|bearer_token|refresh_token",
    GL + "generic-api-key (keyed)",
    False,
)
add(
    "generic_signing_secret",
    "generic",
    shape((H, 64)),
    "jwt_secret|signing_secret|webhook_secret|hmac_secret",
    GL + "generic-api-key (keyed hex64)",
    False,
)

# URLs and connection strings with a password
add(
    "postgres_url",
    "PostgreSQL",
    url_gen("postgresql://{u}:{p}@{h}:5432/app"),
    "database_url",
    "RFC 3986 userinfo; libpq connection URI",
    True,
    "url",
)
add(
    "mysql_url",
    "MySQL",
    url_gen("mysql://{u}:{p}@{h}:3306/shop"),
    "database_url",
    "RFC 3986 userinfo",
    True,
    "url",
)
add(
    "mongodb_srv_url",
    "MongoDB",
    url_gen("mongodb+srv://{u}:{p}@cluster0.{n}.mongodb.net/app?retryWrites=true"),
    "mongodb_uri",
    "MongoDB docs: SRV connection string",
    True,
    "url",
)
add(
    "redis_url",
    "Redis",
    url_gen("rediss://default:{p}@{h}:6380/0"),
    "redis_url",
    "redis URI scheme",
    True,
    "url",
)
add(
    "amqp_url",
    "RabbitMQ",
    url_gen("amqps://{u}:{p}@{h}:5671/prod"),
    "broker_url",
    "AMQP URI spec",
    True,
    "url",
)
add(
    "smtp_url",
    "SMTP",
    url_gen("smtp://{u}:{p}@smtp.{h}:587"),
    "email_url",
    "SMTP URL with userinfo",
    True,
    "url",
)
add("ftp_url", "FTP", url_gen("ftp://{u}:{p}@{h}/upload"), "ftp_url", "RFC 1738 FTP URL", True, "url")
add(
    "git_https_credentials_url",
    "git",
    url_gen("https://{u}:{p}@git.{h}/platform/infra.git"),
    "repo_url",
    "git credential-store URL with userinfo",
    True,
    "url",
)
add("mssql_connection_string", "SQL Server", url_gen(
    "Server=tcp:{h},1433;Initial Catalog=app;User ID={u};Password={p};Encrypt=True;"), "connection_string",
    "ADO.NET connection string Password=", True, "url")  # fmt: skip
add(
    "jdbc_url_password",
    "JDBC",
    url_gen("jdbc:postgresql://{h}:5432/app?user={u}&password={p}&ssl=true"),
    "jdbc_url",
    "JDBC URL password parameter",
    True,
    "url",
)

# Headers and special files
add(
    "basic_auth_header",
    "HTTP",
    gen_basic_auth,
    "authorization",
    "RFC 7617 Basic (base64 user:pass)",
    False,
    "header_basic",
)
add(
    "bearer_auth_header",
    "HTTP",
    shape((A, 40)),
    "authorization",
    "RFC 6750 Bearer; gitleaks curl-auth-header",
    False,
    "header_bearer",
)
add("curl_user_password", "HTTP", gen_password, "curl", GL + "curl-auth-user", False, "raw")
add(
    "npmrc_auth_token",
    "npm",
    one(lambda r: uuid4(r)),
    "npmrc",
    "npm docs: .npmrc //registry/:_authToken=",
    False,
    "raw",
)
add(
    "docker_config_auth",
    "Docker",
    gen_docker_auth,
    "dockerconfigjson",
    "Docker config.json auths.<host>.auth",
    False,
    "raw",
)
add(
    "k8s_secret_data",
    "Kubernetes",
    gen_k8s_secret_data,
    "k8s_secret",
    GL + "kubernetes-secret-yaml",
    False,
    "raw",
)
add("gitlab_session_cookie", "GitLab", shape((L, 32)), "cookie", GL + "gitlab-session-cookie", False, "raw")
add("netrc_password", "netrc", gen_password, "netrc", "netrc(5): machine/login/password", False, "raw")

# Private keys
RSA_DER = bytes.fromhex("308204a4020100028201010000")
PKCS8_DER = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7")
EC_DER = bytes.fromhex("30770201010420")
add(
    "rsa_private_key",
    "PEM",
    pem_block("RSA PRIVATE KEY", RSA_DER, 1180),
    "private_key",
    GL + "private-key; RFC 7468 (PKCS#1)",
    True,
    "pem",
)
add(
    "pkcs8_private_key",
    "PEM",
    pem_block("PRIVATE KEY", PKCS8_DER, 1180),
    "private_key",
    GL + "private-key; RFC 7468 (PKCS#8)",
    True,
    "pem",
)
add(
    "ec_private_key",
    "PEM",
    pem_block("EC PRIVATE KEY", EC_DER, 114),
    "private_key",
    GL + "private-key (SEC1 EC)",
    True,
    "pem",
)
add(
    "dsa_private_key",
    "PEM",
    pem_block("DSA PRIVATE KEY", bytes.fromhex("308201bb020100"), 430),
    "private_key",
    GL + "private-key (DSA)",
    True,
    "pem",
)
add(
    "encrypted_private_key",
    "PEM",
    pem_block("ENCRYPTED PRIVATE KEY", bytes.fromhex("308205"), 1290),
    "private_key",
    GL + "private-key (PKCS#8 encrypted)",
    True,
    "pem",
)
add(
    "openssh_private_key",
    "OpenSSH",
    gen_openssh,
    "ssh_private_key",
    GL + "private-key (OPENSSH, PROTOCOL.key)",
    True,
    "pem",
)
add(
    "pgp_private_key_block",
    "PGP",
    gen_pgp_private,
    "gpg_private_key",
    GL + "private-key (PGP PRIVATE KEY BLOCK)",
    True,
    "pem",
)
add("putty_private_key", "PuTTY", gen_putty, "ppk", "PuTTY PPK v3 format (Private-Lines)", True, "pem")


# ---------------------------------------------------------------------------------------------
# Code contexts. Markers: @V@ value, @VJ@ JSON-escaped value, @VX@ XML-escaped value,
# @VIn@ value with continuation lines indented by n spaces; @UPPER@ @snake@ @camel@ @Pascal@
# @dotted@ @kebab@ name forms; @svc@ service slug, @Svc@ service class name.

CODE: list[tuple[str, str]] = [
    ("python", 'import requests\n\n@UPPER@ = "@V@"\nBASE_URL = "https://api.@svc@.com/v1"\n\n\n'
     "def list_items(page: int = 1) -> dict:\n"
     '    resp = requests.get(f"{BASE_URL}/items", params={"page": page}, timeout=10)\n'
     "    resp.raise_for_status()\n    return resp.json()\n"),
    ("python", "from @svc@ import Client\n\nclient = Client(\n    @snake@=\"@V@\",\n    timeout=30,\n)\n"),
    ("python", 'SETTINGS = {\n    "debug": False,\n    "@snake@": "@V@",\n    "retries": 3,\n}\n'),
    ("javascript", "const axios = require('axios');\n\nconst @camel@ = '@V@';\n\n"
     "module.exports = async function fetchAll() {\n"
     "  const res = await axios.get('https://api.@svc@.com/v2/items');\n  return res.data;\n};\n"),
    ("typescript", 'export const config = {\n  region: "eu-west-1",\n  @camel@: "@V@",\n  retries: 3,\n} as const;\n'),
    ("go", 'package config\n\nconst @Pascal@ = "@V@"\n\nfunc Endpoint() string {\n\treturn "https://api.@svc@.com"\n}\n'),
    ("go", 'func newClient() *Client {\n\tcfg := &Config{\n\t\tRegion: "us-east-1",\n\t\t@Pascal@: "@V@",\n\t}\n'
     "\treturn New(cfg)\n}\n"),
    ("java", "public class @Svc@Client {\n    private static final String @UPPER@ = \"@V@\";\n"
     "    private final HttpClient http = HttpClient.newHttpClient();\n}\n"),
    ("java", 'Properties props = new Properties();\nprops.setProperty("@UPPER@", "@V@");\n'
     'props.setProperty("timeout", "30");\n'),
    ("csharp", "var options = new @Svc@Options\n{\n    @Pascal@ = \"@V@\",\n"
     "    Timeout = TimeSpan.FromSeconds(30),\n};\n"),
    ("ruby", "@Svc@.configure do |config|\n  config.@snake@ = '@V@'\n  config.timeout = 15\nend\n"),
    ("php", "<?php\n\nreturn [\n    'debug' => false,\n    '@snake@' => '@V@',\n];\n"),
    ("php", "<?php\ndefine('@UPPER@', '@V@');\n$client = new Client(['timeout' => 5]);\n"),
    ("rust", 'const @UPPER@: &str = "@V@";\n\nfn main() {\n    println!("starting");\n}\n'),
    ("yaml_k8s", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\nspec:\n  template:\n    spec:\n"
     "      containers:\n        - name: worker\n          image: registry.local/worker:1.4.2\n          env:\n"
     '            - name: @UPPER@\n              value: "@V@"\n'),
    ("yaml_ci", "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      @UPPER@: @V@\n"
     "    steps:\n      - uses: actions/checkout@v4\n      - run: make deploy\n"),
    ("yaml", "@svc@:\n  endpoint: https://api.@svc@.com\n  @snake@: '@V@'\n  timeout: 30\n"),
    ("dotenv", "APP_ENV=production\nLOG_LEVEL=info\n@UPPER@=@V@\n"),
    ("dotenv", '# @Svc@\n@UPPER@="@V@"\n'),
    ("json", '{\n  "name": "billing-service",\n  "@camel@": "@VJ@",\n  "region": "us-east-1"\n}\n'),
    ("toml", '[@svc@]\nendpoint = "https://api.@svc@.com"\n@snake@ = "@V@"\n'),
    ("ini", "[@svc@]\nhost = api.@svc@.com\n@snake@ = @V@\n"),
    ("xml", '<configuration>\n  <appSettings>\n    <add key="@Pascal@" value="@VX@" />\n  </appSettings>\n'
     "</configuration>\n"),
    ("xml", '<bean id="@svc@Client" class="com.acme.@Svc@Client">\n  <property name="@camel@" value="@VX@"/>\n</bean>\n'),
    ("properties", "server.port=8080\napp.@dotted@=@V@\n"),
    ("shell", 'export @UPPER@="@V@"\n./bin/run --env prod\n'),
    ("dockerfile", 'FROM python:3.12-slim\nWORKDIR /app\nENV @UPPER@=@V@\nCOPY . .\nCMD ["python", "main.py"]\n'),
    ("terraform", 'provider "@svc@" {\n  region = "us-east-1"\n  @snake@ = "@V@"\n}\n'),
    ("curl", 'curl -s -H "Authorization: Bearer @V@" https://api.@svc@.com/v1/me\n'),
]  # fmt: skip

URL_CODE: list[tuple[str, str]] = [
    ("python", '@UPPER@ = "@V@"\nengine = create_engine(@UPPER@, pool_size=5)\n'),
    ("javascript", "const @camel@ = '@V@';\nmodule.exports = { @camel@ };\n"),
    ("go", 'var @Pascal@ = "@V@"\n'),
    ("java", 'private static final String @UPPER@ = "@V@";\n'),
    ("csharp", 'services.AddDbContext<AppDb>(o => o.UseSqlServer("@V@"));\nvar @camel@ = "@V@";\n'),
    ("ruby", "config.@snake@ = '@V@'\n"),
    ("php", "<?php\n$config['@snake@'] = '@V@';\n"),
    ("yaml_k8s", "env:\n  - name: @UPPER@\n    value: \"@V@\"\n  - name: LOG_LEVEL\n    value: info\n"),
    ("yaml", "services:\n  app:\n    image: acme/app:2.3\n    environment:\n      @UPPER@: \"@V@\"\n"),
    ("dotenv", '@UPPER@="@V@"\n'),
    ("json", '{\n  "@camel@": "@VJ@",\n  "poolSize": 10\n}\n'),
    ("toml", '[database]\n@snake@ = "@V@"\n'),
    ("xml", '<connectionStrings>\n  <add name="Default" connectionString="@VX@" />\n</connectionStrings>\n'),
    ("properties", "spring.datasource.@dotted@=@V@\n"),
    ("shell", "export @UPPER@='@V@'\n"),
    ("dockerfile", 'FROM node:20-alpine\nENV @UPPER@="@V@"\nCMD ["node", "server.js"]\n'),
    ("terraform", 'resource "kubernetes_secret" "app" {\n  data = {\n    @snake@ = "@V@"\n  }\n}\n'),
]  # fmt: skip

PEM_CODE: list[tuple[str, str]] = [
    ("python", '@UPPER@ = """@V@\n"""\n'),
    ("javascript", "const @camel@ = `@V@\n`;\n"),
    ("go", "var @camel@ = []byte(`@V@\n`)\n"),
    ("yaml", "@snake@: |\n  @VI2@\n"),
    ("yaml_k8s", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: deploy-key\ntype: Opaque\nstringData:\n"
     "  @snake@: |\n    @VI4@\n"),
    ("json", '{\n  "@snake@": "@VJ@\\n"\n}\n'),
    ("dotenv", '@UPPER@="@VJ@"\n'),
    ("terraform", 'variable "@snake@" {\n  default = <<EOT\n@V@\nEOT\n}\n'),
    ("ruby", "@UPPER@ = <<~KEY\n  @VI2@\nKEY\n"),
]  # fmt: skip

STANDALONE: list[tuple[str, str]] = [
    ("python_call", 'from acme import Client\n\nclient = Client()\nclient.configure("@V@")\n'),
    ("python_list", 'VALUES = [\n    "@V@",\n    "fallback",\n]\n'),
    ("python_dict", 'entry = {"value": "@V@", "enabled": True}\n'),
    ("javascript_call", "import sdk from './sdk';\n\nsdk.init('@V@');\n"),
    ("go_call", 'func setup() *lib.Client {\n\treturn lib.New("@V@")\n}\n'),
    ("java_call", 'Service svc = new Service("@V@");\nsvc.start();\n'),
    ("ruby_call", "Client.new('@V@').run\n"),
    ("yaml_list", "items:\n  - @V@\n  - other\n"),
    ("json_value", '{"id": 7, "value": "@VJ@"}\n'),
    ("shell_arg", "./deploy.sh --stage prod @V@\n"),
]  # fmt: skip

URL_STANDALONE: list[tuple[str, str]] = [
    ("python_call", 'conn = connect("@V@")\n'),
    ("javascript_call", "await client.open('@V@');\n"),
    ("go_call", 'db, err := sql.Open("driver", "@V@")\n'),
    ("python_list", 'TARGETS = ["@V@"]\n'),
    ("shell_arg", "./migrate.sh '@V@'\n"),
]  # fmt: skip

PEM_STANDALONE: list[tuple[str, str]] = [
    ("pem_file", "@V@\n"),
    ("python_call", 'load_pem(b"""@V@\n""")\n'),
    ("javascript_call", "crypto.createPrivateKey(`@V@\n`);\n"),
    ("json_value", '{"value": "@VJ@\\n"}\n'),
]  # fmt: skip

HEADER_CODE: list[tuple[str, str]] = [
    ("curl", 'curl -sS -H "@SCHEME@ @V@" https://api.internal.acme.io/v1/reports\n'),
    ("python", 'headers = {"Authorization": "@SCHEME@ @V@", "Accept": "application/json"}\n'
     "resp = requests.get(url, headers=headers, timeout=10)\n"),
    ("javascript", "const res = await fetch(url, {\n  headers: { Authorization: '@SCHEME@ @V@' },\n});\n"),
    ("go", 'req.Header.Set("Authorization", "@SCHEME@ @V@")\n'),
    ("http", "GET /v1/me HTTP/1.1\nHost: api.acme.io\nAuthorization: @SCHEME@ @V@\nAccept: */*\n"),
    ("nginx", "location /upstream/ {\n    proxy_set_header Authorization \"@SCHEME@ @V@\";\n}\n"),
    ("java", 'conn.setRequestProperty("Authorization", "@SCHEME@ @V@");\n'),
]  # fmt: skip

RAW: dict[str, list[tuple[str, str]]] = {
    "curl_user_password": [
        ("curl", "curl -u deploy:@V@ https://ci.acme.io/api/json\n"),
        ("curl", 'curl --user "admin:@V@" -X POST https://registry.acme.io/v2/\n'),
        ("shell", "wget --user=backup --password=@V@ https://files.acme.io/db.tar.gz\n"),
    ],
    "npmrc_auth_token": [
        ("npmrc", "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=@V@\n"),
        ("npmrc", "@acme:registry=https://npm.pkg.acme.io/\n//npm.pkg.acme.io/:_authToken=@V@\nalways-auth=true\n"),
        ("yaml", 'npmScopes:\n  acme:\n    npmRegistryServer: "https://npm.acme.io"\n    npmAuthToken: "@V@"\n'),
    ],
    "docker_config_auth": [
        ("json", '{\n  "auths": {\n    "registry.acme.io": {\n      "auth": "@V@"\n    }\n  }\n}\n'),
        ("json", '{"auths":{"https://index.docker.io/v1/":{"auth":"@V@","email":""}}}\n'),
    ],
    "k8s_secret_data": [
        ("yaml_k8s", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\ntype: Opaque\ndata:\n"
         "  username: YXBw\n  password: @V@\n"),
        ("yaml_k8s", "kind: Secret\napiVersion: v1\nmetadata:\n  name: api\ndata:\n  API_KEY: @V@\n"),
    ],
    "gitlab_session_cookie": [
        ("curl", 'curl -b "_gitlab_session=@V@" https://gitlab.acme.io/api/v4/projects\n'),
        ("python", 'cookies = {"_gitlab_session": "@V@"}\n'),
        ("http", "GET /dashboard HTTP/1.1\nCookie: _gitlab_session=@V@; event_filter=all\n"),
    ],
    "netrc_password": [
        ("netrc", "machine api.heroku.com\n  login ops@acme.io\n  password @V@\n"),
        ("netrc", "machine git.acme.io login deploy password @V@\n"),
        ("pgpass", "db-prod-01.internal:5432:app:app:@V@\n"),
    ],
    "gcp_service_account_key": [
        ("json", "@V@\n"),
        ("python", "info = json.loads('''@V@''')\n"),
    ],
}  # fmt: skip


def name_forms(snake: str) -> dict[str, str]:
    words = snake.split("_")
    return {
        "@UPPER@": snake.upper(),
        "@snake@": snake,
        "@camel@": words[0] + "".join(w.capitalize() for w in words[1:]),
        "@Pascal@": "".join(w.capitalize() for w in words),
        "@dotted@": ".".join(words),
        "@kebab@": "-".join(words),
    }


def fill(template: str, value: str, snake: str, service: str, scheme: str = "") -> str:
    slug = re.sub(r"[^a-z0-9]", "", service.lower()) or "acme"
    text = template.replace("@svc@", slug).replace("@Svc@", re.sub(r"[^A-Za-z0-9]", "", service) or "Acme")
    text = text.replace("@SCHEME@", scheme)
    for marker, form in name_forms(snake).items():
        text = text.replace(marker, form)
    text = re.sub(r"@VI(\d+)@", lambda m: value.replace("\n", "\n" + " " * int(m.group(1))), text)
    xml = value.replace("&", "&amp;").replace('"', "&quot;")
    return text.replace("@VJ@", json.dumps(value)[1:-1]).replace("@VX@", xml).replace("@V@", value)


def in_holdout(key: str) -> bool:
    return int(hashlib.sha256(f"holdout:{key}".encode()).hexdigest(), 16) % 3 == 0


def record(type_: str, service: str, syntax: str, text: str, secret: str, positive: bool, standalone: bool,
           holdout: bool, source: str) -> dict[str, object]:  # fmt: skip
    return {"type": type_, "service": service, "syntax": syntax, "text": text, "secret": secret,
            "positive": positive, "standalone": standalone, "holdout": holdout, "source": source}  # fmt: skip


IN_CODE_PER_TYPE = 4
STANDALONE_PER_TYPE = 3


def positives(r: random.Random) -> Iterator[dict[str, object]]:
    for spec in SPECS:
        holdout = in_holdout(spec.type)
        if spec.kind == "raw":
            code, alone = RAW[spec.type], []
        elif spec.kind == "url":
            code, alone = URL_CODE, URL_STANDALONE + STANDALONE[:3]
        elif spec.kind == "pem":
            code, alone = PEM_CODE, PEM_STANDALONE
        elif spec.kind.startswith("header_"):
            code, alone = HEADER_CODE, []
        else:
            code, alone = CODE, STANDALONE
        scheme = "Basic" if spec.kind == "header_basic" else "Bearer"
        chosen = r.sample(code, min(IN_CODE_PER_TYPE, len(code)))
        for syntax, template in chosen:
            value, secret = spec.gen(r)
            text = fill(template, value, r.choice(spec.names), spec.service, scheme)
            yield record(spec.type, spec.service, syntax, text, secret, True, False, holdout, spec.source)
        if spec.distinctive and alone:
            for syntax, template in r.sample(alone, min(STANDALONE_PER_TYPE, len(alone))):
                value, secret = spec.gen(r)
                text = fill(template, value, "value", "acme")
                yield record(spec.type, spec.service, syntax, text, secret, True, True, holdout, spec.source)


# ---------------------------------------------------------------------------------------------
# Negatives

TELLING_NAMES = [
    "api_key", "openai_api_key", "stripe_secret_key", "github_token", "db_password", "aws_secret_access_key",
    "slack_bot_token", "client_secret", "auth_token", "password", "secret_key", "access_token",
    "sendgrid_api_key", "jwt_secret", "anthropic_api_key", "database_url",
]  # fmt: skip

PLACEHOLDERS = [
    "xxxx", "xxxxxxxxxxxxxxxxxxxxxxxx", "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "****", "********", "<token>",
    "<your-api-key>", "<API_KEY>", "your-api-key-here", "YOUR_API_KEY", "your_token_here", "REPLACE_ME",
    "changeme", "CHANGE_ME", "TODO", "insert-key-here", "sk-...", "<redacted>", "[REDACTED]", "dummy",
    "placeholder", "", "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "AKIAXXXXXXXXXXXXXXXX", "xoxb-your-token", "sk-proj-XXXXXXXXXXXXXXXXXXXX", "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "0000000000000000", "your-secret-key", "<paste token here>", "sk-ant-xxxxxxxx", "glpat-xxxxxxxxxxxxxxxxxxxx",
    "my-secret-key", "secret-goes-here", "<password>", "YOUR_PASSWORD_HERE", "xxx-xxx-xxx",
]  # fmt: skip

TEMPLATE_REFS = [
    "${API_KEY}", "${env:API_KEY}", "$API_KEY", "{{ .Values.token }}", "{{ .Values.secrets.apiKey }}",
    "${{ secrets.GITHUB_TOKEN }}", "${{ secrets.DEPLOY_KEY }}", "%API_KEY%", "$(API_KEY)", "{{api_key}}",
    "{{ vault_db_password }}", "${var.api_key}", "<%= ENV['API_KEY'] %>", "@API_KEY@", "${ssm:/prod/api-key}",
    "${DB_PASSWORD:-}", "#{API_TOKEN}", "{{ lookup('env', 'API_KEY') }}", "${file(\"secrets/key.txt\")}",
    "$__env{GRAFANA_TOKEN}",
]  # fmt: skip

ENV_LOOKUPS: list[tuple[str, str]] = [
    ("python", 'import os\n\n@UPPER@ = os.environ["@UPPER@"]\n'),
    ("python", '@snake@ = os.getenv("@UPPER@")\n'),
    ("python", '@UPPER@ = os.environ.get("@UPPER@", "")\n'),
    ("python", '@UPPER@ = env("@UPPER@", default=None)\n'),
    ("javascript", "const @camel@ = process.env.@UPPER@;\n"),
    ("javascript", 'const @camel@ = process.env["@UPPER@"] ?? "";\n'),
    ("go", '@camel@ := os.Getenv("@UPPER@")\n'),
    ("java", 'String @camel@ = System.getenv("@UPPER@");\n'),
    ("csharp", 'var @camel@ = Environment.GetEnvironmentVariable("@UPPER@");\n'),
    ("ruby", "@snake@ = ENV.fetch('@UPPER@')\n"),
    ("ruby", "config.@snake@ = ENV['@UPPER@']\n"),
    ("php", "<?php\n$@camel@ = getenv('@UPPER@');\n"),
    ("php", "<?php\nreturn ['@snake@' => env('@UPPER@')];\n"),
    ("rust", 'let @snake@ = std::env::var("@UPPER@")?;\n'),
    ("shell", 'export @UPPER@="$(vault kv get -field=value secret/app/@kebab@)"\n'),
    ("shell", "@UPPER@=$(cat /run/secrets/@snake@)\n"),
    ("yaml_k8s", "env:\n  - name: @UPPER@\n    valueFrom:\n      secretKeyRef:\n        name: app-secrets\n"
     "        key: @kebab@\n"),
    ("yaml_ci", "env:\n  @UPPER@: ${{ secrets.@UPPER@ }}\n"),
    ("yaml", "environment:\n  @UPPER@: ${@UPPER@}\n"),
    ("terraform", "@snake@ = var.@snake@\n"),
    ("go", 'viper.GetString("@dotted@")\n'),
    ("python", '@snake@ = settings.@UPPER@\n'),
    ("java", '@Value("${@dotted@}")\nprivate String @camel@;\n'),
]  # fmt: skip

WORDS = ["user", "account", "session", "token", "refresh", "handler", "callback", "provider", "factory", "manager",
         "authentication", "authorization", "password", "reset", "secret", "rotation", "service", "client",
         "credentials", "validator", "request", "response", "builder", "strategy", "configuration", "access",
         "key", "store", "resolver", "interceptor", "listener", "registry", "adapter", "policy"]  # fmt: skip

IDENTIFIER_LINES = [
    ("python", "TOKEN_EXPIRY_SECONDS = 3600\nPASSWORD_MIN_LENGTH = 12\n"),
    ("python", 'password_reset_url = "/accounts/password/reset/"\n'),
    ("python", 'API_KEY_HEADER = "X-API-Key"\n'),
    ("python", 'secret_name = "prod/billing/stripe"\n'),
    ("python", 'token_type = "Bearer"\n'),
    ("json", '{\n  "auth.password.tooShort": "Password is too short",\n  "auth.token.expired": "Session expired"\n}\n'),
    ("javascript", 'const authTokenStorageKey = "app.auth.accessToken";\n'),
    ("javascript", "const ACCESS_TOKEN_COOKIE_NAME = '__Host-access-token';\n"),
    ("java", 'private static final String SECRET_KEY_ALGORITHM = "PBKDF2WithHmacSHA256";\n'),
    ("java", 'Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");\n'),
    ("python", 'message_key = "errors.validation.passwordConfirmationMismatch"\n'),
    ("javascript", "const apiKeyParameterName = 'x-goog-api-key';\n"),
    ("python", 'TOKEN_URL = "https://oauth2.googleapis.com/token"\n'),
    ("python", "password = forms.CharField(widget=forms.PasswordInput, max_length=128)\n"),
    ("python", 'secret = modal.Secret.from_name("openai-credentials")\n'),
    ("python", 'pw = keyring.get_password("backup-tool", "deploy")\n'),
    ("go", 'const tokenHeader = "X-Auth-Token"\n'),
    ("yaml", "security:\n  oauth2:\n    token-uri: https://login.acme.io/oauth2/token\n    client-authentication-method: basic\n"),
    ("python", 'sort_key = "updatedAtTimestampMillis"\n'),
    ("java", 'String key = "com.acme.security.token.JwtTokenProviderImplementation";\n'),
    ("typescript", "export const PASSWORD_POLICY_DESCRIPTION_KEY = 'settings.security.passwordPolicyDescription';\n"),
    ("python", 'api_key_env_var = "OPENAI_API_KEY"\n'),
    ("shell", 'if [ -z "$GITHUB_TOKEN" ]; then echo "GITHUB_TOKEN is not set" >&2; exit 1; fi\n'),
    ("python", 'KEY_DERIVATION = "scrypt"\nSECRET_ROTATION_DAYS = 90\n'),
]  # fmt: skip


def png_bytes(r: random.Random, size: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + r.randbytes(size * 3) for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def negatives(r: random.Random) -> Iterator[tuple[str, str, str]]:
    """(category, syntax, text) for each negative case."""
    any_code = CODE[:-1]  # the curl template puts the value in an Authorization header
    for _ in range(80):
        syntax, template = r.choice(any_code)
        yield "placeholder", syntax, fill(template, r.choice(PLACEHOLDERS), r.choice(TELLING_NAMES), "acme")
    for _ in range(50):
        syntax, template = r.choice(any_code)
        yield (
            "template_reference",
            syntax,
            fill(template, r.choice(TEMPLATE_REFS), r.choice(TELLING_NAMES), "acme"),
        )
    for template_syntax, template in ENV_LOOKUPS:
        for snake in r.sample(TELLING_NAMES, 3):
            yield "environment_lookup", template_syntax, fill(template, "", snake, "acme")
    aws_id, aws_secret = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    aws_forms = [
        ("ini", f"[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n"),
        ("dotenv", f"AWS_ACCESS_KEY_ID={aws_id}\nAWS_SECRET_ACCESS_KEY={aws_secret}\n"),
        ("python", f'boto3.client("s3", aws_access_key_id="{aws_id}",\n             aws_secret_access_key="{aws_secret}")\n'),
        ("shell", f"export AWS_ACCESS_KEY_ID={aws_id}\nexport AWS_SECRET_ACCESS_KEY={aws_secret}\n"),
        ("terraform", f'provider "aws" {{\n  access_key = "{aws_id}"\n  secret_key = "{aws_secret}"\n}}\n'),
        ("json", f'{{"accessKeyId": "{aws_id}", "secretAccessKey": "{aws_secret}"}}\n'),
        ("yaml", f"aws:\n  access_key_id: {aws_id}\n  secret_access_key: {aws_secret}\n"),
        ("java", f'new BasicAWSCredentials("{aws_id}", "{aws_secret}");\n'),
        ("markdown", f"Set `AWS_ACCESS_KEY_ID` (for example `{aws_id}`) before running the tests.\n"),
        ("go", f'creds := credentials.NewStaticCredentials("{aws_id}", "{aws_secret}", "")\n'),
    ]  # fmt: skip
    for syntax, text in aws_forms:
        yield "aws_documented_example", syntax, text
    jwt_io = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
              "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")  # fmt: skip
    documented = [
        ("markdown", f"Paste the token from jwt.io, e.g. `{jwt_io}`, into the debugger.\n"),
        ("python", f'# The jwt.io sample token\nSAMPLE = "{jwt_io}"\n'),
        ("python", 'SLACK_WEBHOOK_URL = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"\n'),
        ("yaml", "notify:\n  webhook: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n"),
        ("python", 'TWILIO_ACCOUNT_SID = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"\nTWILIO_AUTH_TOKEN = "your_auth_token"\n'),
        ("dotenv", "DATABASE_URL=postgres://user:password@localhost:5432/mydb\n"),
        ("python", 'BROKER_URL = "amqp://guest:guest@localhost:5672//"\n'),
        ("yaml", "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: postgres\n"),
        ("dotenv", "MYSQL_ROOT_PASSWORD=root\nMYSQL_PASSWORD=secret\n"),
        ("markdown", "Your key looks like `sk-...`; never commit it.\n"),
    ]  # fmt: skip
    for syntax, text in documented:
        yield "documented_example", syntax, text
    test_words = ["password", "secret", "test", "admin", "changeme", "example", "dummy", "fake", "foobar",
                  "testpassword", "test123", "letmein", "not-a-real-secret", "sample"]  # fmt: skip
    for _ in range(40):
        syntax, template = r.choice(any_code)
        word = r.choice(test_words)
        name = r.choice(["password", "db_password", "secret", "api_key", "token", "admin_password"])
        yield "test_word", syntax, fill(template, word, name, "acme")
    for syntax, text in [
        ("python", 'user.set_password("correct horse battery staple")\n'),
        ("python", 'client.login(username="admin", password="admin")\n'),
        ("javascript", "await page.fill('#password', 'hunter2-test');\n"),
        ("python", 'assert check_password("wrong", hashed) is False\n'),
    ]:
        yield "test_word", syntax, text
    # hashes and digests
    for _ in range(60):
        md5, sha1, sha256 = pick(r, H, 32), pick(r, H, 40), pick(r, H, 64)
        forms = [
            ("toml", f'[[package]]\nname = "serde"\nversion = "1.0.{r.randint(100, 220)}"\n'
             f'source = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "{sha256}"\n'),
            ("text", f"requests==2.31.0 \\\n    --hash=sha256:{sha256}\n"),
            ("python", f'EXPECTED_MD5 = "{md5}"\n'),
            ("python", f'if hashlib.sha256(data).hexdigest() != "{sha256}":\n    raise ValueError("corrupt download")\n'),
            ("text", f"{sha1}  dist/app-{r.randint(1, 9)}.{r.randint(0, 20)}.tar.gz\n"),
            ("dockerfile", f"FROM python:3.12-slim@sha256:{sha256}\n"),
            ("json", f'"dist": {{"shasum": "{sha1}", "tarball": "https://registry.npmjs.org/x/-/x-1.0.0.tgz"}}\n'),
            ("text", f"golang.org/x/net v0.{r.randint(10, 30)}.0 h1:{b64(r.randbytes(32))}\n"),
            ("terraform", f'hashes = [\n  "h1:{b64(r.randbytes(32))}",\n  "zh:{sha256}",\n]\n'),
            ("http", f'ETag: "{md5}"\n'),
            ("yaml", f"- name: download\n  checksum: sha512:{pick(r, H, 128)}\n"),
        ]  # fmt: skip
        yield "hash_digest", *r.choice(forms)
    for _ in range(35):
        sha = pick(r, H, 40)
        forms = [
            ("yaml", f"repos:\n  - repo: https://github.com/psf/black\n    rev: {sha}\n    hooks:\n      - id: black\n"),
            ("shell", f"git checkout {sha}\n"),
            ("yaml_ci", f"steps:\n  - uses: actions/checkout@{sha} # v4.1.1\n"),
            ("json", f'"resolved": "git+https://github.com/acme/lib.git#{sha}"\n'),
            ("python", f'COMMIT_SHA = "{sha}"\n'),
            ("text", f"require golang.org/x/tools v0.0.0-20240101120000-{sha[:12]}\n"),
            ("text", f"commit {sha}\nMerge: {sha[:7]} {pick(r, H, 7)}\n\n    Fix flaky test\n"),
            ("markdown", f"Fixed in {sha[:10]} (see #{r.randint(100, 9999)}).\n"),
        ]  # fmt: skip
        yield "git_sha", *r.choice(forms)
    for _ in range(30):
        sri512, sri384 = b64(r.randbytes(64)), b64(r.randbytes(48))
        forms = [
            ("json", f'"node_modules/lodash": {{\n  "version": "4.17.21",\n  "integrity": "sha512-{sri512}"\n}}\n'),
            ("html", f'<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.2/dist/js/bootstrap.min.js"\n'
             f'        integrity="sha384-{sri384}" crossorigin="anonymous"></script>\n'),
            ("text", f'lodash@^4.17.21:\n  version "4.17.21"\n  integrity sha512-{sri512}\n'),
        ]  # fmt: skip
        yield "sri_integrity", *r.choice(forms)
    for _ in range(40):
        u = uuid4(r)
        forms = [
            ("python", f'request_id = "{u}"\n'),
            ("python", f'TENANT_ID = "{u}"\nSUBSCRIPTION_ID = "{uuid4(r)}"\n'),
            ("xml", f"<ProjectGuid>{{{u.upper()}}}</ProjectGuid>\n"),
            ("json", f'{{"id": "{u}", "name": "invoice", "status": "paid"}}\n'),
            ("yaml_k8s", f"metadata:\n  name: web\n  uid: {u}\n"),
            ("java", f'UUID orderId = UUID.fromString("{u}");\n'),
            ("text", f'Project("{{{uuid4(r).upper()}}}") = "App", "App\\App.csproj", "{{{u.upper()}}}"\n'),
            ("terraform", f'resource "azurerm_role_assignment" "r" {{\n  principal_id = "{u}"\n}}\n'),
        ]  # fmt: skip
        yield "uuid", *r.choice(forms)
    for _ in range(45):
        png = b64(png_bytes(r, r.randint(4, 8)))
        font = b64(b"wOF2\x00\x01\x00\x00" + r.randbytes(r.randint(200, 400)))
        gz = b64(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + r.randbytes(r.randint(100, 300)))
        cert = b64(bytes.fromhex("308203") + r.randbytes(600))
        cert_lines = "\n".join(cert[i : i + 64] for i in range(0, len(cert), 64))
        ssh_pub = b64(
            b"\x00\x00\x00\x07ssh-rsa\x00\x00\x00\x03\x01\x00\x01\x00\x00\x01\x01\x00" + r.randbytes(256)
        )
        wasm = b64(b"\x00asm\x01\x00\x00\x00" + r.randbytes(r.randint(150, 300)))
        forms = [
            ("css", f".logo {{\n  background-image: url(data:image/png;base64,{png});\n}}\n"),
            ("html", f'<img alt="spinner" src="data:image/png;base64,{png}">\n'),
            ("python", f'ICON_PNG = "{png}"\n'),
            ("css", f"@font-face {{\n  font-family: 'Inter';\n  src: url(data:font/woff2;base64,{font}) format('woff2');\n}}\n"),
            ("javascript", f"const fixture = '{gz}';\n"),
            ("python", f'assert base64.b64encode(b"hello world") == b"aGVsbG8gd29ybGQ="\nblob = "{gz}"\n'),
            ("pem", f"-----BEGIN CERTIFICATE-----\n{cert_lines}\n-----END CERTIFICATE-----\n"),
            ("text", f"ssh-rsa {ssh_pub} deploy@build-01\n"),
            ("javascript", f'const wasmModule = Uint8Array.from(atob("{wasm}"), c => c.charCodeAt(0));\n'),
        ]  # fmt: skip
        yield "base64_data", *r.choice(forms)
    versions = [
        ("python", '__version__ = "2.14.0"\n'), ("json", '{"version": "1.0.0-beta.3+exp.sha.5114f85"}\n'),
        ("yaml", "image: nginx:1.25.3-alpine\n"), ("text", "go 1.22.1\n"), ("dotenv", "VERSION=v3.11.2\n"),
        ("xml", "<version>5.3.31</version>\n"), ("toml", 'rust-version = "1.74"\n'),
        ("python", 'python_requires=">=3.9,<4"\n'), ("yaml_ci", "with:\n  node-version: 20.11.1\n"),
        ("python", 'USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"\n'),
        ("text", "Version: 10.0.19045.3803\n"), ("json", '"engines": {"node": ">=18.17.0"}\n'),
        ("python", 'BUILD = "2024.06.10-rc.2+git.7f3c2a1"\n'), ("yaml", "appVersion: \"4.2.0-SNAPSHOT\"\n"),
        ("shell", "curl -fsSL https://get.acme.io/install.sh | sh -s -- --version 0.19.3\n"),
        ("dockerfile", "ARG TERRAFORM_VERSION=1.7.5\n"), ("python", "VERSION_INFO = (3, 12, 1, 'final', 0)\n"),
        ("csharp", '[assembly: AssemblyVersion("4.8.0.0")]\n'), ("go", 'const Version = "v0.34.2"\n'),
        ("text", "Package: libssl3\nVersion: 3.0.2-0ubuntu1.15\n"),
    ]  # fmt: skip
    for syntax, text in versions:
        yield "version_string", syntax, text
    for _ in range(40):
        syntax, template = r.choice(STANDALONE)
        value = wrong_crc_token(r, r.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]))
        yield "github_bad_checksum", syntax, fill(template, value, "value", "acme")
    for _ in range(20):
        syntax, template = r.choice(STANDALONE)
        yield "npm_bad_checksum", syntax, fill(template, wrong_crc_token(r, "npm_"), "value", "acme")
    for syntax, text in IDENTIFIER_LINES:
        yield "code_identifier", syntax, text
    for _ in range(30):
        words = r.sample(WORDS, r.randint(4, 7))
        camel = words[0] + "".join(w.capitalize() for w in words[1:])
        pascal = "".join(w.capitalize() for w in words)
        forms = [
            ("python", f'handler = "{camel}"\n'),
            ("java", f"public class {pascal} implements Serializable {{\n}}\n"),
            ("javascript", f"export function {camel}(req, res) {{\n  return next(req);\n}}\n"),
            ("json", f'{{"auth_handler": "{camel}", "enabled": true}}\n'),
            ("python", f'token_provider = "{".".join(["com", "acme", *words])}"\n'),
        ]  # fmt: skip
        yield "code_identifier", *r.choice(forms)
    url_negatives = [
        ("python", 'DATABASE_URL = "postgres://app@db.internal:5432/app"\n'),
        ("dotenv", "DATABASE_URL=postgresql://localhost/app_test\n"),
        ("python", 'REDIS_URL = "redis://localhost:6379/0"\n'),
        ("yaml", "repository: https://github.com/acme/platform.git\n"),
        ("ini", "[remote \"origin\"]\n\turl = git@github.com:acme/platform.git\n"),
        ("dotenv", "DATABASE_URL=mysql://root@127.0.0.1:3306/shop\n"),
        ("dotenv", "DATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}:5432/app\n"),
        ("python", 'MONGO_URI = "mongodb+srv://app:<password>@cluster0.abcde.mongodb.net/app"\n'),
        ("markdown", "Clone with `git clone https://user:****@git.acme.io/platform.git`.\n"),
        ("javascript", "const url = 'http://localhost:8080/api?page=2&token_type=bearer';\n"),
        ("yaml", "storage:\n  bucket: s3://acme-artifacts/releases\n"),
        ("python", 'AMQP_URL = f"amqp://{user}:{password}@{host}:5672/"\n'),
        ("dotenv", "BROKER_URL=amqp://rabbit:${RABBITMQ_PASSWORD}@mq:5672/\n"),
        ("yaml", "url: jdbc:postgresql://db:5432/app?user=app&password=${DB_PASSWORD}\n"),
        ("csharp", 'var cs = "Server=localhost;Database=app;Trusted_Connection=True;";\n'),
        ("xml", '<add name="Default" connectionString="Server=.;Database=app;Integrated Security=true" />\n'),
    ]  # fmt: skip
    for syntax, text in url_negatives:
        yield "url_without_secret", syntax, text


def cases(seed: int = SEED) -> list[dict[str, object]]:
    r = random.Random(seed)
    out = list(positives(r))
    for category, syntax, text in negatives(r):
        out.append(record(f"neg_{category}", "-", syntax, text, "", False, False, in_holdout(f"neg:{category}"),
                          "negative: " + category.replace("_", " ")))  # fmt: skip
    return out


def write(path: Path, seed: int = SEED) -> int:
    rows = cases(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    rows = cases(args.seed)
    n = write(args.out, args.seed)
    pos = [c for c in rows if c["positive"]]
    print(f"wrote {n} cases to {args.out}: {len(pos)} positives over {len({c['type'] for c in pos})} types, "
          f"{n - len(pos)} negatives, syntaxes {len({c['syntax'] for c in rows})}")  # fmt: skip


if __name__ == "__main__":
    main()

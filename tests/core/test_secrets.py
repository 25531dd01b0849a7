import pytest

from codelupe_dagster.core.secrets import redact_secrets

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
GH = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.mark.parametrize(
    ("text", "redacted", "kind"),
    [
        (
            'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"',
            'AWS_ACCESS_KEY_ID = "<REDACTED:aws_access_key_id>"',
            "aws_access_key_id",
        ),
        ("key: ASIAY34FZKBOKMUTVV7A", "key: <REDACTED:aws_access_key_id>", "aws_access_key_id"),
        (
            'aws_secret_access_key = "Zq8nV3xY7pL2mK9jH4gF6dS1aQ0wE5rT8yU3iO2p"',
            'aws_secret_access_key = "<REDACTED:aws_secret_access_key>"',
            "aws_secret_access_key",
        ),
        (f'client = Github("{GH}")', 'client = Github("<REDACTED:github_token>")', "github_token"),
        ("token=gho_" + "x" * 36, "token=<REDACTED:github_token>", "github_token"),
        (
            "GITHUB_PAT=github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "GITHUB_PAT=<REDACTED:github_token>",
            "github_token",
        ),
        ('SLACK = "xoxb-2048-1234567890-AbCdEfGhIjKl"', 'SLACK = "<REDACTED:slack_token>"', "slack_token"),
        (
            "const k = 'AIzaSyD-1234567890abcdefghijklmnopqrstu';",
            "const k = '<REDACTED:google_api_key>';",
            "google_api_key",
        ),
        (
            'stripe.api_key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"',
            'stripe.api_key = "<REDACTED:stripe_key>"',
            "stripe_key",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1\nxyz==\n-----END RSA PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\n<REDACTED:private_key>\n-----END RSA PRIVATE KEY-----\n",
            "private_key",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
            "-----BEGIN OPENSSH PRIVATE KEY-----\n<REDACTED:private_key>\n-----END OPENSSH PRIVATE KEY-----",
            "private_key",
        ),
        (
            f'auth = "{JWT}"',
            'auth = "<REDACTED:jwt>"',
            "jwt",
        ),
        ('password = "hunter2-Secure!"', 'password = "<REDACTED:password>"', "password"),
        ("DB_PASSWORD='s3cr3t-P4ss'", "DB_PASSWORD='<REDACTED:password>'", "password"),
        ('{"api_key": "8f14e45fceea167a5a36"}', '{"api_key": "<REDACTED:api_key>"}', "api_key"),
        ("SECRET_KEY = 'django-insecure-9x!k2#p0qz'", "SECRET_KEY = '<REDACTED:secret>'", "secret"),
        ('auth_token := "tk-93jf02jf0"', 'auth_token := "<REDACTED:token>"', "token"),
        (
            'DATABASE_URL = "postgres://app:Pa55w0rd@db.internal:5432/main"',
            'DATABASE_URL = "postgres://app:<REDACTED:connection_string_password>@db.internal:5432/main"',
            "connection_string_password",
        ),
        (
            "mongodb+srv://admin:Xk29fj2@cluster0.mongodb.net/test",
            "mongodb+srv://admin:<REDACTED:connection_string_password>@cluster0.mongodb.net/test",
            "connection_string_password",
        ),
    ],
)
def test_each_secret_type_is_redacted(text, redacted, kind):
    result, counts = redact_secrets(text)
    assert result == redacted
    assert counts == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        'password = os.environ["DB_PASSWORD"]',
        "password = None",
        'password = ""',
        'password = "changeme"',
        "password = get_password()",
        'password = "${DB_PASSWORD}"',
        'api_key = "<your-api-key>"',
        'parser.add_argument("--password", help="the password to use")',
        'tokenizer = "bert-base-uncased"',
        'token_type = "bearer"',
        'if password == "hunter2":',
        "url = 'https://docs.python.org/3/library/os.html'",
        "dsn = 'postgres://user:${PASSWORD}@localhost/db'",
        "ID = 'AKIA_NOT_A_KEY'",
        "highlight = 'ghost'",
        # a PEM parser names the markers; the code between them is not a key
        'BEGIN = "-----BEGIN RSA PRIVATE KEY-----"\n'
        "body = read(lines[1:-1])\n"
        'END = "-----END RSA PRIVATE KEY-----"\n',
    ],
)
def test_placeholders_and_references_are_kept(text):
    assert redact_secrets(text) == (text, {})


def test_key_embedded_in_a_string_literal():
    text = (
        'KEY = ("-----BEGIN EC PRIVATE KEY-----\\n"\n'
        '       "MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\\n"\n'
        '       "-----END EC PRIVATE KEY-----\\n")\n'
    )
    redacted, counts = redact_secrets(text)
    assert counts == {"private_key": 1}
    assert "MHcCAQEE" not in redacted


def test_clean_code_is_untouched():
    code = (
        "import os\n\n\ndef connect(host, port=5432):\n"
        '    """Open a connection; credentials come from the environment."""\n'
        '    password = os.environ.get("PGPASSWORD")\n'
        "    return Client(host, port, password=password)\n"
    )
    assert redact_secrets(code) == (code, {})


def test_counts_and_idempotence():
    text = f'a = "{GH}"\nb = "{GH}"\npassword = "abc-def-123"\n'
    redacted, counts = redact_secrets(text)
    assert counts == {"github_token": 2, "password": 1}
    assert GH not in redacted
    assert redact_secrets(redacted) == (redacted, {})


def test_non_ascii_text_keeps_positions():
    text = 'İstanbul = 1\npassword = "s3cr3t-value"\n'
    assert redact_secrets(text)[0] == 'İstanbul = 1\npassword = "<REDACTED:password>"\n'

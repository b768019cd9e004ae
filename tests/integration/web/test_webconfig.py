"""web-config TLS and basic auth on the real HTTP face, with a real TLS client.

trustme makes a CA, a server certificate for 127.0.0.1 and a client
certificate; bcrypt hashes are made at the lowest cost so the tests stay fast.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import bcrypt
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from slaprobe.web import server, webconfig
from slaprobe.web.webauth import BasicAuth

HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()


@pytest.fixture(name="ca", scope="module")
def _ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(name="certs")
def _certs(tmp_path: Path, ca: trustme.CA) -> Path:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    return tmp_path


def client_context(ca: trustme.CA, *, cert: bool = False,
                   maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    if cert:
        ca.issue_cert("prometheus@example.org").configure_cert(ctx)
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def render() -> bytes:
    return b"# TYPE slaprobe_up gauge\nslaprobe_up 1\n"


Serve = Callable[[Path], Awaitable[str]]


@pytest.fixture(name="serve")
async def _serve(unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[Serve]:
    runners = []

    async def start(path: Path) -> str:
        web_cfg = webconfig.load(path)
        middlewares = [BasicAuth(web_cfg.users).middleware] if web_cfg.users else []
        app = server.make_app(render, lambda: True, middlewares=middlewares)
        port = unused_tcp_port_factory()
        runners.append(await server.start(app, "127.0.0.1", port,
                                          ssl_context=web_cfg.ssl_context))
        return f"{web_cfg.scheme}://127.0.0.1:{port}"

    yield start
    for r in runners:
        await r.cleanup()


async def get(url: str, *, ssl_ctx: ssl.SSLContext | bool = True,
              auth: str | None = None) -> tuple[int, str, dict[str, str]]:
    headers = {} if auth is None else {"Authorization": auth}
    async with aiohttp.ClientSession() as s, s.get(url, ssl=ssl_ctx, headers=headers) as r:
        return r.status, await r.text(), dict(r.headers)


async def test_tls_and_basic_auth_guard_every_endpoint(certs: Path, ca: trustme.CA,
                                                       serve: Serve) -> None:
    (certs / "web.yml").write_text(f"""
tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  prometheus: {HASH}
""")
    base = await serve(certs / "web.yml")
    assert base.startswith("https://")
    tls = client_context(ca)
    good = basic("prometheus", "s3cret")
    status, body, _ = await get(f"{base}/metrics", ssl_ctx=tls, auth=good)
    assert (status, body) == (200, (await render()).decode())
    for path in ("/metrics", "/healthz", "/readyz", "/"):
        assert (await get(f"{base}{path}", ssl_ctx=tls, auth=good))[0] == 200
        for bad in (None, basic("prometheus", "wrong"),
                    basic("nobody", "s3cret"), basic("", "")):
            status, body, headers = await get(f"{base}{path}", ssl_ctx=tls, auth=bad)
            assert status == 401 and "slaprobe_up" not in body, (path, bad)
            assert headers["WWW-Authenticate"].startswith('Basic realm="slaprobe"')
    # The server's certificate is checked by the client: without the CA it fails.
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await get(f"{base}/metrics", auth=good)
    # Plain HTTP to the TLS port gets nothing.
    with pytest.raises(aiohttp.ClientError):
        await get(base.replace("https", "http") + "/metrics", auth=good)


async def test_client_certificates_required(certs: Path, ca: trustme.CA,
                                            serve: Serve) -> None:
    (certs / "web.yml").write_text("""
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
""")
    base = await serve(certs / "web.yml")
    assert (await get(f"{base}/metrics", ssl_ctx=client_context(ca, cert=True)))[0] == 200
    with pytest.raises(aiohttp.ClientError):
        await get(f"{base}/metrics", ssl_ctx=client_context(ca))
    stranger = trustme.CA()
    foreign = client_context(ca)
    stranger.issue_cert("mallory@example.org").configure_cert(foreign)
    with pytest.raises(aiohttp.ClientError):
        await get(f"{base}/metrics", ssl_ctx=foreign)


async def test_min_version_refuses_older_clients(certs: Path, ca: trustme.CA,
                                                 serve: Serve) -> None:
    (certs / "web.yml").write_text("""
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  min_version: TLS13
""")
    base = await serve(certs / "web.yml")
    assert (await get(f"{base}/healthz", ssl_ctx=client_context(ca)))[0] == 200
    with pytest.raises(aiohttp.ClientError):
        await get(f"{base}/healthz",
                  ssl_ctx=client_context(ca, maximum=ssl.TLSVersion.TLSv1_2))


async def test_bcrypt_runs_once_per_credential() -> None:
    calls: list[bytes] = []

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return bcrypt.checkpw(password, hashed)

    auth = BasicAuth({"prometheus": HASH.encode()}, checkpw=counting)
    good = basic("prometheus", "s3cret")
    bad = basic("prometheus", "nope")
    assert [await auth.allowed(good) for _ in range(5)] == [True] * 5
    assert [await auth.allowed(bad) for _ in range(3)] == [False] * 3
    assert calls == [b"s3cret", b"nope"]
    # An unknown user costs a bcrypt too (against a dummy hash): no timing tell.
    assert not await auth.allowed(basic("nobody", "s3cret"))
    assert len(calls) == 3
    # Malformed headers never reach bcrypt.
    for header in (None, "", "Bearer abc", "Basic !!!", "Basic " + "bm9jb2xvbg=="):
        assert not await auth.allowed(header)
    assert len(calls) == 3


async def test_cache_is_bounded() -> None:
    auth = BasicAuth({"prometheus": HASH.encode()}, cache_size=3)
    for i in range(10):
        assert not await auth.allowed(basic("prometheus", f"guess{i}"))
    assert len(auth._cache) == 3


def write(tmp: Path, text: str) -> Path:
    (tmp / "web.yml").write_text(text)
    return tmp / "web.yml"


@pytest.mark.parametrize(("text", "key"), [
    ("tls_server_config:\n  cert_file: server.crt\n", "tls_server_config.key_file: missing"),
    ("tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n",
     "tls_server_config.cert_file: no such file"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
     "  min_version: TLS9\n", "tls_server_config.min_version: must be one of"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
     "  client_auth_type: RequireAndVerifyClientCert\n",
     "tls_server_config.client_ca_file: required"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
     "  client_auth_type: RequestClientCert\n", "tls_server_config.client_auth_type"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
     "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
     "tls_server_config.cipher_suites: not supported"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
     "  min_version: TLS13\n  max_version: TLS12\n", "tls_server_config.max_version"),
    ("tls_server_config:\n  cert_file: ca.crt\n  key_file: server.key\n",
     "tls_server_config.cert_file/key_file: cannot load"),
    ("basic_auth_users:\n  prometheus: hunter2\n", "basic_auth_users.prometheus: must be a bcrypt"),
    ("basic_auth_user:\n  prometheus: x\n", "basic_auth_user: unknown key"),
    ("http_server_config:\n  http2: false\n", "http_server_config: not supported"),
    ("tls_server_config: [\n", "not valid YAML: line"),
    ("- a\n- b\n", "must be a mapping"),
])
def test_invalid_files_name_the_key(certs: Path, text: str, key: str) -> None:
    with pytest.raises(webconfig.WebConfigError) as e:
        webconfig.load(write(certs, text))
    assert any(key in p for p in e.value.problems), e.value.problems
    assert all(p.startswith("daemon.web_config") for p in e.value.problems)
    assert "hunter2" not in str(e.value)


def test_encrypted_key_is_a_clear_error_never_a_prompt(certs: Path) -> None:
    """An encrypted key: exit-2 problem naming the key, without asking for a pass phrase
    (OpenSSL's default would read one from the terminal)."""
    key = serialization.load_pem_private_key((certs / "server.key").read_bytes(), None)
    (certs / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass phrase")))
    with pytest.raises(webconfig.WebConfigError) as e:
        webconfig.load(write(certs, "tls_server_config:\n  cert_file: server.crt\n"
                                    "  key_file: server.key\n"))
    assert any("tls_server_config.key_file" in p and "is encrypted" in p
               for p in e.value.problems), e.value.problems


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(webconfig.WebConfigError, match=r"daemon.web_config: cannot read"):
        webconfig.load(tmp_path / "absent.yml")
    empty = webconfig.load(write(tmp_path, ""))
    assert empty.tls is None and not empty.users and empty.scheme == "http"


def test_shipped_example_needs_a_hash_then_loads(certs: Path) -> None:
    shipped = (Path(__file__).parents[3] / "deploy" / "web.yml").read_text()
    (certs / "tls").mkdir()
    (certs / "server.crt").rename(certs / "tls" / "slaprobe.crt")
    text = shipped.replace("/run/credentials/slaprobe.service/slaprobe.key",
                           str(certs / "server.key"))
    with pytest.raises(webconfig.WebConfigError) as e:
        webconfig.load(write(certs, text))
    assert [p.split(": ", 1)[1] for p in e.value.problems] == [
        "basic_auth_users.prometheus: must be a bcrypt hash ($2y$..., e.g. from "
        "`htpasswd -nBC 10 \"\" | tr -d ':\\n'`), never a plain password"]
    web = webconfig.load(write(certs, text.replace("REPLACE_WITH_BCRYPT_HASH", HASH)))
    assert web.tls is not None and web.tls.min_version == "TLS12"
    assert list(web.users) == ["prometheus"] and web.ssl_context is not None

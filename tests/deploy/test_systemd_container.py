"""The shipped unit under a real systemd, booted in a throwaway container.

One container for the module (see container.py); the tests run in file order
against the same service, as an operator would: start, probe, own the state,
reload good and bad, log levels in the journal, exposure, watchdog, TLS and
basic auth with the key as a systemd credential, stop.

The one change to the shipped unit is a drop-in that shortens the watchdog and
restart delays (WatchdogSec=10s, RestartSec=1s instead of 30s and 5s) so the
watchdog test takes seconds, not a minute; the mechanism is the same.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import bcrypt
import pytest
import trustme
from container import REPO, CannotMount, Container, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.in_order]  # one container, step by step

UNIT = REPO / "deploy" / "systemd" / "slaprobe.service"
TARGET_PORT = 18080
LISTEN = "127.0.0.1:9469"
MAX_EXPOSURE = 2.0  # systemd-analyze security: "OK" is below 3; the unit measures 1.1

CONFIG = """
[daemon]
listen = "{listen}"
database = "history.db"

[defaults]
interval = "1s"
timeout = "500ms"
retries = 0

[[targets]]
name = "web"
url = "http://127.0.0.1:{port}/"
{extra}
"""
SECOND = f"""
[[targets]]
name = "web2"
url = "http://127.0.0.1:{TARGET_PORT}/second"
critical = false
"""
DROPIN = "[Service]\nWatchdogSec=10s\nRestartSec=1s\n"


def config(extra: str = "") -> str:
    return CONFIG.format(listen=LISTEN, port=TARGET_PORT, extra=extra)


@pytest.fixture(scope="module", name="ct")
def _ct() -> Iterator[Container]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"systemd container test: {reason}")
    c = Container(UNIT, {"probe.toml": config()})
    try:
        try:
            c.boot()
        except CannotMount as e:
            pytest.skip(f"systemd container test: cannot mount the overlay here: {e}")
        c.run("mkdir -p /etc/systemd/system/slaprobe.service.d /srv/www/second")
        c.write("/etc/systemd/system/slaprobe.service.d/timing.conf", DROPIN)
        c.run("echo ok > /srv/www/index.html && echo ok > /srv/www/second/index.html")
        c.run("systemctl daemon-reload")
        c.run(f"systemd-run --unit=probe-target /usr/bin/python3 -m http.server {TARGET_PORT} "
              "--bind 127.0.0.1 --directory /srv/www")
        yield c
    finally:
        c.teardown()


def show(ct: Container, *props: str) -> dict[str, str]:
    out = ct.run(f"systemctl show slaprobe -p {','.join(props)}").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def fetch(ct: Container, path: str) -> tuple[int, str]:
    script = (
        "import sys, urllib.request, urllib.error\n"
        "try:\n"
        f"    r = urllib.request.urlopen('http://{LISTEN}{path}', timeout=5)\n"
        "    print(r.status); print(r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code); print(e.read().decode())\n"
    )
    r = ct.run("/usr/bin/python3 -", input=script, check=False)
    if r.returncode != 0:
        return 0, r.stderr
    status, _, body = r.stdout.partition("\n")
    return int(status), body


def sample(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"([a-z_:]+)(\{[^}]*\})? (\S+)$", line)
        if m and m.group(1) == name:
            got = ",".join(sorted((m.group(2) or "{}")[1:-1].split(","))) if m.group(2) else ""
            if got == want:
                return float(m.group(3))
    return None


def wait_metric(ct: Container, name: str, value: float, timeout: float = 20,
                **labels: str) -> None:
    deadline = time.monotonic() + timeout
    seen: float | None = None
    while time.monotonic() < deadline:
        status, body = fetch(ct, "/metrics")
        if status == 200:
            seen = sample(body, name, **labels)
            if seen == value:
                return
        time.sleep(0.3)
    raise AssertionError(f"{name}{labels} = {seen}, wanted {value}; journal:\n{journal(ct)}")


def journal(ct: Container, *args: str) -> str:
    return ct.run("journalctl -u slaprobe --no-pager -o cat " + " ".join(args)).stdout


def main_pid(ct: Container) -> int:
    """The service's main PID; never 0 (`kill 0` would signal a whole process group)."""
    pid = int(show(ct, "MainPID")["MainPID"])
    assert pid > 1, f"slaprobe is not running (MainPID={pid}):\n{journal(ct)}"
    return pid


def test_start_returns_after_ready(ct: Container) -> None:
    ct.run("systemctl start slaprobe", timeout=60)
    # Type=notify: start returned only after READY=1, so the daemon already serves.
    status, body = fetch(ct, "/readyz")
    assert (status, body.strip()) == (200, "ready"), journal(ct)
    props = show(ct, "ActiveState", "SubState", "Type", "NRestarts")
    assert props == {"ActiveState": "active", "SubState": "running", "Type": "notify",
                     "NRestarts": "0"}
    assert ct.run("systemctl is-active slaprobe").stdout.strip() == "active"
    assert re.match(r"1 targets: .*; config loaded \d{4}-", show(ct, "StatusText")["StatusText"])


def wait_status(ct: Container, part: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while part not in (text := show(ct, "StatusText")["StatusText"]):
        assert time.monotonic() < deadline, f"StatusText {text!r}, wanted {part!r}"
        time.sleep(0.3)
    return text


def test_probing_works_under_the_hardening(ct: Container) -> None:
    wait_metric(ct, "slaprobe_probe_success", 1.0, target="web")
    wait_metric(ct, "slaprobe_target_up", 1.0, target="web")


def test_database_belongs_to_the_dynamic_user(ct: Container) -> None:
    pid = main_pid(ct)
    status = ct.run(f"cat /proc/{pid}/status").stdout
    uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
    assert 61184 <= uid <= 65519, f"not a dynamic user: uid {uid}"
    assert re.search(r"^CapEff:\s+0+$", status, re.M), status
    db = "/var/lib/private/slaprobe/history.db"
    owner = ct.run(f"stat -c '%u %a' {db}").stdout.split()
    assert owner == [str(uid), "600"]
    assert ct.run("readlink /var/lib/slaprobe").stdout.strip() == "private/slaprobe"
    # The daemon's environment points relative database paths there.
    environ = ct.run(f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout
    assert "STATE_DIRECTORY=/var/lib/slaprobe" in environ.splitlines()


def test_reload_good_then_bad_keeps_the_old_config(ct: Container) -> None:
    pid = main_pid(ct)
    ct.write("/etc/slaprobe/probe.toml", config(SECOND))
    ct.run("systemctl reload slaprobe")
    wait_metric(ct, "slaprobe_target_up", 1.0, target="web2")
    assert main_pid(ct) == pid
    assert wait_status(ct, "config reloaded").startswith("2 targets: ")

    ct.write("/etc/slaprobe/probe.toml", config(SECOND).replace('interval = "1s"',
                                                                'interval = "soon"'))
    r = ct.run("systemctl reload slaprobe", check=False)
    assert r.returncode != 0, "a bad config must fail the reload"
    assert show(ct, "ActiveState")["ActiveState"] == "active"
    assert main_pid(ct) == pid
    assert "defaults.interval" in journal(ct), "the reload's problems name the key"
    # Still probing both targets with the old config.
    wait_metric(ct, "slaprobe_probe_success", 1.0, target="web2")
    ct.write("/etc/slaprobe/probe.toml", config(SECOND))


def test_journal_stores_each_line_at_its_level(ct: Container) -> None:
    # SIGHUP straight to the daemon (no ExecReload check first): the daemon itself
    # refuses the bad config and logs config_reload_failed at error level.
    ct.write("/etc/slaprobe/probe.toml", config().replace('retries = 0', 'retries = "x"'))
    ct.run("systemctl kill -s HUP --kill-whom=main slaprobe")
    deadline = time.monotonic() + 20
    while "config_reload_failed" not in (errors := journal(ct, "-p", "err")):
        assert time.monotonic() < deadline, f"no error in the journal:\n{journal(ct)}"
        time.sleep(0.3)
    assert "defaults.retries" in errors
    assert "old config kept" in wait_status(ct, "reload failed")
    # The ExecReload check's complaint from the bad `systemctl reload` is an error too.
    assert "slaprobe: invalid config:" in errors
    assert '"started"' not in errors and '"started"' in journal(ct, "-p", "info")
    assert '"event": "listening"' in journal(ct, "-p", "info")
    ct.write("/etc/slaprobe/probe.toml", config(SECOND))


def test_exposure_score(ct: Container) -> None:
    out = ct.run("systemd-analyze security --no-pager slaprobe.service").stdout
    m = re.search(r"Overall exposure level for slaprobe\.service: (\d+\.\d+)", out)
    assert m, out[-2000:]
    score = float(m.group(1))
    print(f"systemd-analyze security exposure: {score}")
    assert score <= MAX_EXPOSURE


def test_watchdog_restarts_a_stopped_daemon(ct: Container) -> None:
    pid = main_pid(ct)
    ct.run(f"kill -STOP {pid}")
    deadline = time.monotonic() + 40
    props: dict[str, str] = {}
    while time.monotonic() < deadline:
        props = show(ct, "MainPID", "ActiveState", "NRestarts")
        if props["MainPID"] not in ("0", str(pid)) and props["ActiveState"] == "active":
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"no watchdog restart: {props}\n{journal(ct)}")
    assert int(props["NRestarts"]) >= 1
    log = ct.run("journalctl --no-pager -o cat -u slaprobe").stdout
    assert "Watchdog timeout" in log, log[-2000:]
    wait_metric(ct, "slaprobe_probe_success", 1.0, target="web")


def test_tls_and_basic_auth_as_the_readme_says(ct: Container) -> None:
    """deploy/web.yml with the key handed over by LoadCredential=, under the hardening."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    hashed = bcrypt.hashpw(b"scrape", bcrypt.gensalt(rounds=4)).decode()
    ct.run("install -d -m 0755 /etc/slaprobe/tls")
    ct.write("/etc/slaprobe/tls/slaprobe.crt", cert.cert_chain_pems[0].bytes().decode())
    ct.write("/etc/slaprobe/tls/slaprobe.key", cert.private_key_pem.bytes().decode())
    ct.run("chmod 0600 /etc/slaprobe/tls/slaprobe.key")
    ct.write("/root/ca.pem", ca.cert_pem.bytes().decode())
    web = (REPO / "deploy" / "web.yml").read_text().replace("REPLACE_WITH_BCRYPT_HASH", hashed)
    ct.write("/etc/slaprobe/web.yml", web)
    ct.write("/etc/systemd/system/slaprobe.service.d/tls.conf",
             "[Service]\nLoadCredential=slaprobe.key:/etc/slaprobe/tls/slaprobe.key\n")
    ct.write("/etc/slaprobe/probe.toml", config().replace(
        'database = "history.db"', 'database = "history.db"\nweb_config = "web.yml"'))
    ct.run("systemctl daemon-reload && systemctl restart slaprobe", timeout=60)
    script = (
        "import base64, ssl, sys, urllib.request, urllib.error\n"
        "ctx = ssl.create_default_context(cafile='/root/ca.pem')\n"
        "for auth in sys.argv[1:]:\n"
        f"    req = urllib.request.Request('https://{LISTEN}/metrics')\n"
        "    if auth != '-':\n"
        "        token = base64.b64encode(auth.encode()).decode()\n"
        "        req.add_header('Authorization', 'Basic ' + token)\n"
        "    try:\n"
        "        print(urllib.request.urlopen(req, context=ctx, timeout=5).status)\n"
        "    except urllib.error.HTTPError as e:\n"
        "        print(e.code)\n"
    )
    ct.write("/root/get.py", script)
    r = ct.run("/usr/bin/python3 /root/get.py prometheus:scrape - prometheus:wrong")
    assert r.stdout.split() == ["200", "401", "401"], r.stdout + r.stderr
    assert "listening_unprotected" not in journal(ct)
    # Back to the plain config for the rest.
    ct.run("rm /etc/systemd/system/slaprobe.service.d/tls.conf && systemctl daemon-reload")
    ct.write("/etc/slaprobe/probe.toml", config(SECOND))
    ct.run("systemctl restart slaprobe", timeout=60)


def test_clean_stop(ct: Container) -> None:
    ct.run("systemctl stop slaprobe", timeout=60)
    props = show(ct, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    # ExecMainCode 1 = CLD_EXITED: it exited by itself (with 0), not killed.
    assert props == {"ActiveState": "inactive", "Result": "success", "ExecMainCode": "1",
                     "ExecMainStatus": "0"}, props
    events = [json.loads(line[line.index("{"):]) for line in journal(ct).splitlines()
              if line.lstrip("<0123456789>").startswith("{")]
    assert "stopping" in [e.get("event") for e in events]

"""E-mail for the replies-by-e-mail tests: messages as a mail program writes them, and a real
IMAP server (Debian's dovecot) on a free loopback port, in a folder of the test's own."""

from __future__ import annotations

import getpass
import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from tests.brokers import free_port
from tests.processes import skip_or_fail


def reply_mail(
    *,
    to: str,
    sender: str = "Sam <sam@customer.example>",
    body: str = "Thanks, it works now.",
    message_id: str | None = None,
    **headers: str,
) -> EmailMessage:
    """A reply as a mail program sends it; ``headers`` by their Python names
    (In_Reply_To="…" is the In-Reply-To header)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Re: Card declined"
    message["Message-ID"] = message_id or make_msgid(domain="customer.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    user: str
    password: str

    @property
    def url(self) -> str:
        return f"imap://{self.user}:{self.password}@{self.host}:{self.port}/INBOX"

    @contextmanager
    def client(self) -> Iterator[imaplib.IMAP4]:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.user, self.password)
        try:
            yield client
        finally:
            client.logout()

    def append(self, *messages: EmailMessage | bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            for message in messages:
                raw = message if isinstance(message, bytes) else message.as_bytes()
                status, data = client.append(folder, None, None, raw)
                assert status == "OK", data

    def flags(self, folder: str = "INBOX") -> list[str]:
        """Each message's flags, in order."""
        with self.client() as client:
            status, count = client.select(folder, readonly=True)
            assert status == "OK", count
            if count[0] == b"0":
                return []
            status, data = client.fetch("1:*", "(FLAGS)")
            return [item.decode() for item in data if isinstance(item, bytes)]


def _dovecot_config(folder: Path, port: int) -> str:
    # Root runs the server as Debian's own "dovecot" user for the mail processes; anyone else
    # runs every process as themselves.
    user = "dovecot" if os.geteuid() == 0 else getpass.getuser()
    as_user = (
        ""
        if os.geteuid() == 0
        else f"default_internal_user = {user}\ndefault_login_user = {user}\n"
    )
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = helpdesk-test-{port}
log_path = {folder}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
# A wrong password is answered at once (the tests try one).
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:{folder}/mail/%u
{as_user}
passdb {{
  driver = static
  args = password=secret
}}
userdb {{
  driver = static
  args = uid={user} gid={user} home={folder}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@contextmanager
def dovecot() -> Iterator[Mailbox]:
    """A dovecot IMAP server for the block: user "support", password "secret", its config,
    sockets and maildirs in a temporary folder; stopped by its pid file afterwards."""
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    if binary is None:
        skip_or_fail("dovecot is not installed (apt-get install dovecot-imapd)")
        raise AssertionError  # not reached
    # Not under pytest's tmp_path: that is private to the test's user, and the mail
    # processes run as "dovecot" when root starts the server.
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    folder.chmod(0o755)
    (folder / "mail").mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder / "mail", "dovecot", "dovecot")
    port = free_port()
    config = folder / "dovecot.conf"
    config.write_text(_dovecot_config(folder, port))
    try:
        # It forks into the background: its output goes to the log, not to a pipe that the
        # daemon would keep open.
        with (folder / "start.log").open("wb") as out:
            subprocess.run(
                [binary, "-c", str(config)], check=True, stdout=out, stderr=out, timeout=30
            )
        _wait_for_port(port, log=folder / "dovecot.log")
        yield Mailbox("127.0.0.1", port, "support", "secret")
    finally:
        _stop(folder / "run" / "master.pid")
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_port(port: int, *, log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise AssertionError(f"dovecot did not listen on {port} in {timeout}s:\n{tail}")


def _stop(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)

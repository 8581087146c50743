"""The console's first visit: while no administrator exists, ``portline serve`` prints a
one-time set-up link on the server's console, and the page it opens creates the first
administrator the way ``portline init`` does. Without that token, or once an administrator
exists, the page is an address with nothing at it; of two set-ups at once, one wins."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api import installation
from api.audit.models import AuditEntry
from api.crypto import generate_key_text
from api.staff.models import Staff
from api.taxonomy.models import Category
from tests.admin.people import PASSWORD, csrf_of
from tests.databases import fresh_database
from tests.server import (
    fired_together,
    keyring_of,
    running_server,
    running_servers,
    server_environment,
)
from tests.test_cli import portline

SETUP_LINE = re.compile(
    r"No administrator yet\. Open (?P<address>http://\S+)/admin/setup\?token=(?P<token>\S+) "
    r"to create the first one"
)
INVITATION = re.compile(r'<p class="link-text" id="invitation-link" dir="ltr">(\S+)</p>')
SECRET = re.compile(r'<p class="secret" id="secret"[^>]*>(.*?)</p>')


@pytest.fixture
def new_installation(tmp_path: Path) -> Iterator[tuple[dict[str, str], Engine]]:
    """A migrated database with nothing in it (no demo, no staff) and a server's settings."""
    with fresh_database(tmp_path, seed=False) as (url, engine):
        environment = server_environment(url, tmp_path, key=generate_key_text())
        # Each server's links at its own address (tests.server fills in the port).
        yield {**environment, "PORTLINE_PUBLIC_URL": "http://127.0.0.1:{port}"}, engine


def printed_token(log_path: Path, public_url: str = "http://127.0.0.1:8000") -> str:
    """The token of the set-up line the server printed, checking the link starts with the
    installation's public address (PORTLINE_PUBLIC_URL, its default unless set)."""
    found = SETUP_LINE.search(log_path.read_text())
    assert found, log_path.read_text()
    assert found.group("address") == public_url
    return found.group("token")


def administrators(engine: Engine) -> list[Staff]:
    with Session(engine) as session:
        return list(session.exec(select(Staff).where(Staff.role == "administrator")).all())


def staff_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Staff)).one()


def nothing_here(client: httpx.Client) -> str:
    """What the console answers at an address where there is no page."""
    answer = client.get("/admin/no-such-page")
    assert answer.status_code == 404
    return answer.text


def set_up(client: httpx.Client, token: str, email: str, name: str = "") -> httpx.Response:
    return client.post("/admin/setup", data={"token": token, "email": email, "display_name": name})


class TestSetupLink:
    def test_a_server_without_an_administrator_prints_a_one_time_link(
        self, new_installation: tuple[dict[str, str], Engine], tmp_path: Path
    ) -> None:
        environment, _engine = new_installation
        log_path = tmp_path / "server.log"
        with running_server(environment, log_path) as base_url:
            token = printed_token(log_path, base_url)
        assert len(token) >= 40
        assert log_path.read_text().count(token) == 1

    def test_a_server_with_an_administrator_prints_no_link_and_has_no_page(
        self, new_installation: tuple[dict[str, str], Engine], tmp_path: Path
    ) -> None:
        environment, engine = new_installation
        init = portline("init", "--email", "first@port.example", data_dir=tmp_path, **environment)
        assert init.returncode == 0, init.stderr
        log_path = tmp_path / "server.log"
        with (
            running_server(environment, log_path) as base_url,
            httpx.Client(base_url=base_url, timeout=60) as client,
        ):
            assert client.get("/admin/setup").status_code == 404
            assert client.get("/admin/setup?token=anything").status_code == 404
        written = log_path.read_text()
        assert "Portline is running" in written
        assert "No administrator yet" not in written
        assert "/admin/setup" not in written
        assert staff_count(engine) == 1

    def test_each_server_process_draws_its_own_token_good_only_on_itself(
        self, new_installation: tuple[dict[str, str], Engine], tmp_path: Path
    ) -> None:
        environment, _engine = new_installation
        with running_servers(environment, tmp_path, count=2) as (first, second):
            tokens = [
                printed_token(tmp_path / f"serve-{index}.log", base_url)
                for index, base_url in enumerate((first, second))
            ]
            assert tokens[0] != tokens[1]
            assert (
                httpx.get(
                    f"{first}/admin/setup", params={"token": tokens[0]}, timeout=60
                ).status_code
                == 200
            )
            assert (
                httpx.get(
                    f"{first}/admin/setup", params={"token": tokens[1]}, timeout=60
                ).status_code
                == 404
            )


class TestSetupPage:
    def test_without_the_token_or_with_a_wrong_one_there_is_nothing_here(
        self, new_installation: tuple[dict[str, str], Engine], tmp_path: Path
    ) -> None:
        environment, engine = new_installation
        log_path = tmp_path / "server.log"
        with (
            running_server(environment, log_path) as base_url,
            httpx.Client(base_url=base_url, timeout=60) as client,
        ):
            token = printed_token(log_path, base_url)
            nothing = nothing_here(client)
            almost = token[:-1] + ("A" if token[-1] != "A" else "B")
            for answer in (
                client.get("/admin/setup"),
                client.get("/admin/setup", params={"token": ""}),
                client.get("/admin/setup", params={"token": almost}),
                client.get("/admin/setup", params={"token": token + "x"}),
                client.post("/admin/setup", data={"email": "intruder@example.test"}),
                set_up(client, almost, "intruder@example.test"),
                set_up(client, "x" * 5000, "intruder@example.test"),
            ):
                assert answer.status_code == 404
                assert answer.text == nothing
            # The right token still works: the wrong ones did not use it up.
            assert client.get("/admin/setup", params={"token": token}).status_code == 200
        assert staff_count(engine) == 0

    def test_the_token_makes_the_first_administrator_whose_link_is_an_invitation(
        self, new_installation: tuple[dict[str, str], Engine], tmp_path: Path
    ) -> None:
        environment, engine = new_installation
        log_path = tmp_path / "server.log"
        with (
            running_server(environment, log_path) as base_url,
            httpx.Client(base_url=base_url, follow_redirects=True, timeout=60) as client,
        ):
            token = printed_token(log_path, base_url)
            form = client.get("/admin/setup", params={"token": token})
            assert form.status_code == 200
            assert "<h1>Set up Portline</h1>" in form.text
            assert f'name="token" value="{token}"' in form.text
            assert 'name="email"' in form.text and 'name="display_name"' in form.text

            # Bad input: the form again, the problem named at its field, nothing stored.
            for email in ("", "not an address", "@port.example"):
                refused = set_up(client, token, email, "Harbour Master")
                assert refused.status_code == 422
                assert '<p class="error" id="email-error">This is not an e-mail address.</p>' in (
                    refused.text
                )
                assert '<a href="#email">This is not an e-mail address.</a>' in refused.text
                assert 'value="Harbour Master"' in refused.text
            with Session(engine) as session:
                assert session.exec(select(func.count()).select_from(Category)).one() == 0
            assert staff_count(engine) == 0

            done = set_up(client, token, "Harbour.Master@Port.example", "Harbour Master")
            assert done.status_code == 200
            assert "The account of harbour.master@port.example is created." in done.text
            link = INVITATION.search(done.text)
            assert link, done.text
            assert link.group(1).startswith(f"{base_url}/admin/welcome/")

            # Made as portline init makes it: the categories, the account, the audit entry.
            [administrator] = administrators(engine)
            assert (administrator.email, administrator.display_name) == (
                "harbour.master@port.example",
                "Harbour Master",
            )
            with Session(engine) as session:
                assert session.exec(select(func.count()).select_from(Category)).one() > 0
                [created] = session.exec(
                    select(AuditEntry).where(AuditEntry.action == "staff.created")
                ).all()
            assert (created.actor, created.object_id) == ("system", str(administrator.id))

            # Used once: the page is gone, for the same token and for anyone else.
            nothing = nothing_here(client)
            again = client.get("/admin/setup", params={"token": token})
            assert (again.status_code, again.text) == (404, nothing)
            posted_again = set_up(client, token, "second@port.example")
            assert (posted_again.status_code, posted_again.text) == (404, nothing)
            assert staff_count(engine) == 1

            follow_the_invitation(client, link.group(1), administrator.email)

    def test_two_set_ups_at_once_on_one_server_make_one_administrator(
        self, new_installation: tuple[dict[str, str], Engine], tmp_path: Path
    ) -> None:
        environment, engine = new_installation
        log_path = tmp_path / "server.log"
        with (
            running_server(environment, log_path) as base_url,
            httpx.Client(base_url=base_url, timeout=60) as client,
        ):
            token = printed_token(log_path, base_url)
            answers = fired_together(
                [partial(set_up, client, token, f"admin{n}@port.example") for n in range(4)]
            )
        assert sorted(answer.status_code for answer in answers) == [200, 404, 404, 404]
        assert len(administrators(engine)) == 1
        assert staff_count(engine) == 1

    def test_two_set_ups_at_once_on_two_servers_make_one_administrator(
        self, new_installation: tuple[dict[str, str], Engine], tmp_path: Path
    ) -> None:
        # Each process has its own token, so only the database can stop the second one.
        environment, engine = new_installation
        with running_servers(environment, tmp_path, count=2) as base_urls:
            tokens = [
                printed_token(tmp_path / f"serve-{index}.log", base_url)
                for index, base_url in enumerate(base_urls)
            ]
            clients = [httpx.Client(base_url=base_url, timeout=60) for base_url in base_urls]
            try:
                answers = fired_together(
                    [
                        partial(set_up, clients[n], tokens[n], f"admin{n}@port.example")
                        for n in range(2)
                    ]
                )
            finally:
                for client in clients:
                    client.close()
        assert sorted(answer.status_code for answer in answers) == [200, 404]
        assert len(administrators(engine)) == 1
        assert staff_count(engine) == 1


def follow_the_invitation(client: httpx.Client, link: str, email: str) -> None:
    """As an invited person: choose a password, sign in, set up the second factor, and
    find the administration open."""
    welcome = client.get(link)
    assert welcome.status_code == 200
    assert email in welcome.text
    chosen = client.post(link, data={"password": PASSWORD, "password_again": PASSWORD})
    assert chosen.url.path == "/admin/login"
    assert "Your password is set" in chosen.text
    enrol = client.post("/admin/login", data={"email": email, "password": PASSWORD})
    assert enrol.url.path == "/admin/enrol", enrol.text
    secret = SECRET.search(enrol.text)
    assert secret, enrol.text
    code = pyotp.TOTP(re.sub(r"<[^>]+>", "", secret.group(1))).now()
    codes = client.post("/admin/enrol", data={"code": code, "csrf_token": csrf_of(enrol.text)})
    assert "Your recovery codes" in codes.text
    staff_page = client.get("/admin/staff")
    assert staff_page.status_code == 200
    assert "<h1>Staff accounts</h1>" in staff_page.text
    assert email in staff_page.text


class TestInstallIsAtomic:
    def test_a_second_install_waits_for_the_first_and_is_refused(self, tmp_path: Path) -> None:
        """The check for an administrator and the creation of one are a single step, on
        SQLite (its writer lock) and on PostgreSQL (a transaction lock)."""
        with fresh_database(tmp_path, seed=False) as (url, engine):
            keyring = keyring_of(server_environment(url, tmp_path))
            outcome: list[str] = []

            def second_install() -> None:
                with Session(engine) as session:
                    try:
                        installation.install(
                            session=session,
                            keyring=keyring,
                            email="second@port.example",
                            display_name="",
                            now=datetime.now(UTC),
                        )
                        session.commit()
                        outcome.append("created")
                    except installation.AlreadyInstalled:
                        outcome.append("refused")

            with Session(engine) as first:
                installation.install(
                    session=first,
                    keyring=keyring,
                    email="first@port.example",
                    display_name="",
                    now=datetime.now(UTC),
                )
                second = threading.Thread(target=second_install)
                second.start()
                second.join(timeout=1)
                assert second.is_alive(), outcome  # waiting for the first to finish
                first.commit()
            second.join(timeout=60)
            assert outcome == ["refused"]
            assert [each.email for each in administrators(engine)] == ["first@port.example"]

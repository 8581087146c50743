"""Staff limited to some ports (issue 11, point 4): a triager or an administrator of KVL
finds nothing of NHV. Every route that names a case, a report, a referral, a body, a rule,
a port or an account answers for an NHV one exactly as for one that does not exist, and no
listing, count or choice shows it; KVL stays theirs. `portline staff create --port`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from api.agencies.models import Body, BodyJurisdiction, RoutingRule
from api.audit.models import AuditEntry
from api.cases.models import Case
from api.crypto import KeyRing
from api.policy import Role
from api.ports.models import Port
from api.referrals.models import OutboxJob, Referral
from api.reports.models import Report
from api.staff import service as staff_service
from api.staff.models import Staff, StaffPort
from api.triage.models import CaseNote
from tests.factories import (
    jpeg_bytes,
    make_staff,
    post_report,
    report_payload,
    sign_in_staff,
)
from tests.routes import walk
from tests.test_cli import portline

NOTHING = 2_000_000_000  # an id no row has


def _port_id(session: Session, code: str) -> int:
    port_id = session.exec(select(Port.id).where(Port.code == code)).one()
    assert port_id is not None
    return port_id


def _limited(session: Session, keyring: KeyRing, role: Role, *codes: str) -> tuple[Staff, str]:
    """An account of ``role`` that sees only the ports ``codes``."""
    staff, secret = make_staff(session, keyring, role=role)
    for code in codes:
        session.add(StaffPort(staff_id=staff.id or 0, port_id=_port_id(session, code)))
    session.flush()
    return staff, secret


def _case_of(session: Session, reference: str) -> int:
    case_id = session.exec(select(Report.case_id).where(Report.reference == reference)).one()
    assert case_id is not None
    return case_id


def _body(session: Session, code: str, *ports: str) -> Body:
    body = Body(code=code, name=f"Body {code}", kind="police")
    session.add(body)
    session.flush()
    for port in ports:
        session.add(BodyJurisdiction(body_id=body.id or 0, port_id=_port_id(session, port)))
    session.flush()
    return body


def _rule(session: Session, name: str, body: Body | int, port: str | None) -> int:
    body_id = body if isinstance(body, int) else body.id or 0
    last = session.exec(select(func.max(RoutingRule.position))).one()
    rule = RoutingRule(
        position=(last or 0) + 1,
        name=name,
        body_id=body_id,
        port_id=_port_id(session, port) if port else None,
    )
    session.add(rule)
    session.flush()
    assert rule.id is not None
    return rule.id


def _case_reference(session: Session, case_id: int) -> str:
    return session.exec(select(Case.reference).where(Case.id == case_id)).one()


def _names_a_case_by_reference(path: str) -> bool:
    """A legal hold names its case by the case's reference, not by its id."""
    return path.endswith("/legal-hold") or path.startswith("/admin/retention/")


@dataclass
class Ports:
    """An NHV case (with a photo, a referral, its notice and a body's question) and a KVL
    case, each port's own body and rules, and an account that sees every port."""

    nhv_report: str
    nhv_case: int
    nhv_case_reference: str
    nhv_referral: str
    nhv_job: int
    nhv_question: int
    kvl_report: str
    kvl_case: int
    nhv_body: str
    kvl_body: str
    nhv_rule: int
    rule_of_hidden_body: int  # every port, but its body acts in NHV only
    kvl_rule: int
    every_port_rule: int
    everyone: Staff  # a triager of every port


def _ports(client: TestClient, session: Session, keyring: KeyRing) -> Ports:
    nhv = post_report(client, files=[("seal.jpg", jpeg_bytes(), "image/jpeg")]).json()
    kvl = post_report(
        client, report_payload(port="KVL", zone="gate", narrative="A seal at the KVL gate.")
    ).json()
    nhv_case, kvl_case = _case_of(session, nhv["reference"]), _case_of(session, kvl["reference"])
    police = session.exec(select(Body).where(Body.code == "police-port-unit")).one()
    nhv_body, kvl_body = _body(session, "nhv-watch", "NHV"), _body(session, "kvl-watch", "KVL")
    everyone, secret = make_staff(session, keyring, role=Role.triager)
    headers = sign_in_staff(client, everyone, secret)
    referred = client.post(
        f"/api/v1/cases/{nhv_case}/referrals",
        json={
            "body": "police-port-unit",
            "summary": "A seal was cut at the NHV terminal.",
            "tlp": "AMBER",
            "photos": [f"{nhv['reference']}/1"],
        },
        headers=headers,
    )
    assert referred.status_code == 201, referred.text
    reference = referred.json()["reference"]
    officer, officer_secret = make_staff(session, keyring, role=Role.liaison, body_id=police.id)
    officer_headers = sign_in_staff(client, officer, officer_secret)
    asked = client.post(
        f"/api/v1/referrals/{reference}/messages/question",
        json={"body": "Which stack?"},
        headers=officer_headers,
    )
    assert asked.status_code == 204, asked.text
    referral = session.exec(select(Referral).where(Referral.reference == reference)).one()
    job = session.exec(select(OutboxJob).where(OutboxJob.referral_id == referral.id)).first()
    assert job is not None and job.id is not None
    client.cookies.clear()
    return Ports(
        nhv_report=nhv["reference"],
        nhv_case=nhv_case,
        nhv_case_reference=_case_reference(session, nhv_case),
        nhv_referral=reference,
        nhv_job=job.id,
        nhv_question=referral.next_event_seq - 1,
        kvl_report=kvl["reference"],
        kvl_case=kvl_case,
        nhv_body=nhv_body.code,
        kvl_body=kvl_body.code,
        nhv_rule=_rule(session, "NHV seals to the NHV watch", nhv_body, "NHV"),
        rule_of_hidden_body=_rule(session, "Seals to the NHV watch", nhv_body, None),
        kvl_rule=_rule(session, "KVL seals to the KVL watch", kvl_body, "KVL"),
        every_port_rule=_rule(session, "Seals everywhere to the police", police, None),
        everyone=everyone,
    )


# Every route that names something ------------------------------------------------------------

# What each route that names an object is sent, for the NHV object and for one that does not
# exist. Values are filled in from Ports: "{report}" is the NHV report's reference, and so on.
JSON_BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/api/v1/cases/{case_id}/related"): None,
    ("GET", "/api/v1/cases/{case_id}"): None,
    ("POST", "/api/v1/cases/{case_id}/acknowledge"): None,
    ("POST", "/api/v1/cases/{case_id}/messages"): {"report": "{report}", "body": "Thank you."},
    ("PATCH", "/api/v1/cases/{case_id}"): {"title": "Renamed"},
    ("POST", "/api/v1/cases/{case_id}/close"): {
        "resolution": "substantiated",
        "outcome": "Done.",
    },
    ("POST", "/api/v1/cases/{case_id}/reopen"): None,
    ("POST", "/api/v1/cases/{case_id}/reports"): {"report": "{report}"},
    ("DELETE", "/api/v1/cases/{case_id}/reports/{reference}"): None,
    ("POST", "/api/v1/cases/{case_id}/notes"): {"body": "A note."},
    ("GET", "/api/v1/cases/{case_id}/reports/{reference}/attachments/{seq}"): None,
    ("GET", "/api/v1/cases/{case_id}/referral-draft"): None,
    ("POST", "/api/v1/cases/{case_id}/referrals/preview"): {
        "body": "customs",
        "summary": "A seal.",
        "tlp": "AMBER",
    },
    ("POST", "/api/v1/cases/{case_id}/referrals"): {
        "body": "customs",
        "summary": "A seal.",
        "tlp": "AMBER",
    },
    ("GET", "/api/v1/cases/{case_id}/referrals"): None,
    ("PUT", "/api/v1/cases/{case_id}/implicated/{body}"): None,
    ("DELETE", "/api/v1/cases/{case_id}/implicated/{body}"): None,
    ("GET", "/api/v1/cases/{case_id}/deliveries"): None,
    ("POST", "/api/v1/cases/{case_id}/deliveries/{job_id}/retry"): None,
    ("GET", "/api/v1/cases/{case_id}/referral-timelines"): None,
    ("POST", "/api/v1/cases/{case_id}/referrals/{reference}/questions/{seq}"): {"approve": True},
    ("GET", "/api/v1/referrals/{reference}/{document}"): None,
    ("PUT", "/api/v1/ports/{code}/deadlines"): {"acknowledge_days": 5, "feedback_days": 60},
    ("PUT", "/api/v1/ports/{code}/retention"): {"retention_days": 60},
    ("PUT", "/api/v1/cases/{reference}/legal-hold"): {"reason": "A court case."},
    ("DELETE", "/api/v1/cases/{reference}/legal-hold"): None,
    ("GET", "/api/v1/ports/{code}"): None,
    ("PATCH", "/api/v1/ports/{code}"): {"country": "NL"},
    ("POST", "/api/v1/ports/{code}/zones"): {
        "code": "new-quay",
        "kind": "berth",
        "name": {"en": "New quay"},
    },
    ("PATCH", "/api/v1/ports/{code}/zones/{zone}"): {"active": False},
    ("POST", "/api/v1/ports/{code}/zones/{zone}/move"): {"direction": "up"},
    ("POST", "/api/v1/ports/{code}/emergency-numbers"): {
        "number": "112",
        "label": {"en": "Emergency"},
    },
    ("PATCH", "/api/v1/ports/{code}/emergency-numbers/{number_id}"): {"active": False},
    ("POST", "/api/v1/ports/{code}/emergency-numbers/{number_id}/move"): {"direction": "up"},
    ("GET", "/api/v1/bodies/{code}"): None,
    ("PATCH", "/api/v1/bodies/{code}"): {"name": "Renamed"},
    ("GET", "/api/v1/routing-rules/{rule_id}"): None,
    ("PUT", "/api/v1/routing-rules/{rule_id}"): {"name": "Renamed", "body": "customs"},
    ("POST", "/api/v1/routing-rules/{rule_id}/move"): {"direction": "up"},
    ("DELETE", "/api/v1/routing-rules/{rule_id}"): None,
    ("POST", "/api/v1/staff/accounts/{staff_id}/disable"): None,
    ("POST", "/api/v1/staff/accounts/{staff_id}/enable"): None,
    ("POST", "/api/v1/staff/accounts/{staff_id}/reset-second-factor"): None,
    ("PUT", "/api/v1/staff/accounts/{staff_id}/ports"): {"ports": []},
}
FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/admin/cases/{case_id}"): {},
    ("POST", "/admin/cases/{case_id}/acknowledge"): {},
    ("POST", "/admin/cases/{case_id}/messages"): {"report": "{report}", "body": "Thank you."},
    ("POST", "/admin/cases/{case_id}/notes"): {"body": "A note."},
    ("POST", "/admin/cases/{case_id}/classify"): {"title": "Renamed", "tlp": "AMBER"},
    ("POST", "/admin/cases/{case_id}/close"): {"resolution": "substantiated", "outcome": "Done."},
    ("POST", "/admin/cases/{case_id}/reopen"): {},
    ("POST", "/admin/cases/{case_id}/link"): {"report": "{report}"},
    ("POST", "/admin/cases/{case_id}/unlink"): {"report": "{report}"},
    ("POST", "/admin/cases/{case_id}/referrals/{reference}/questions/{seq}"): {"go": "pass"},
    ("GET", "/admin/cases/{case_id}/refer"): {},
    ("POST", "/admin/cases/{case_id}/refer"): {
        "body": "customs",
        "summary": "A seal.",
        "tlp": "AMBER",
        "go": "send",
    },
    ("POST", "/admin/cases/{case_id}/implicated"): {"body": "customs"},
    ("POST", "/admin/cases/{case_id}/deliveries/{job_id}/retry"): {},
    ("GET", "/admin/ports/{code}"): {},
    ("POST", "/admin/ports/{code}"): {"country": "NL"},
    ("POST", "/admin/ports/{code}/deadlines"): {"acknowledge_days": "5", "feedback_days": "60"},
    ("POST", "/admin/ports/{code}/retention"): {"retention_days": "60"},
    ("POST", "/admin/retention/{reference}/hold"): {"reason": "A court case."},
    ("GET", "/admin/retention/{reference}/release"): {},
    ("POST", "/admin/retention/{reference}/release"): {},
    ("GET", "/admin/ports/{code}/retire"): {},
    ("POST", "/admin/ports/{code}/retire"): {},
    ("POST", "/admin/ports/{code}/restore"): {},
    ("POST", "/admin/ports/{code}/zones"): {"code": "new-quay", "kind": "berth"},
    ("GET", "/admin/ports/{code}/zones/{zone}"): {},
    ("POST", "/admin/ports/{code}/zones/{zone}"): {"kind": "berth"},
    ("POST", "/admin/ports/{code}/zones/{zone}/move"): {"direction": "up"},
    ("GET", "/admin/ports/{code}/zones/{zone}/retire"): {},
    ("POST", "/admin/ports/{code}/zones/{zone}/retire"): {},
    ("POST", "/admin/ports/{code}/zones/{zone}/restore"): {},
    ("POST", "/admin/ports/{code}/numbers"): {"number": "112"},
    ("GET", "/admin/ports/{code}/numbers/{number_id}"): {},
    ("POST", "/admin/ports/{code}/numbers/{number_id}"): {"number": "112"},
    ("POST", "/admin/ports/{code}/numbers/{number_id}/move"): {"direction": "up"},
    ("GET", "/admin/ports/{code}/numbers/{number_id}/retire"): {},
    ("POST", "/admin/ports/{code}/numbers/{number_id}/retire"): {},
    ("POST", "/admin/ports/{code}/numbers/{number_id}/restore"): {},
    ("GET", "/admin/bodies/{code}/edit"): {},
    ("POST", "/admin/bodies/{code}/edit"): {"name": "Renamed", "kind": "police"},
    ("GET", "/admin/bodies/{code}/{action}"): {},
    ("POST", "/admin/bodies/{code}/{action}"): {},
    ("GET", "/admin/rules/{rule_id}/edit"): {},
    ("POST", "/admin/rules/{rule_id}/edit"): {"name": "Renamed", "body": "customs"},
    ("POST", "/admin/rules/{rule_id}/move"): {"direction": "up"},
    ("GET", "/admin/rules/{rule_id}/delete"): {},
    ("POST", "/admin/rules/{rule_id}/delete"): {},
    ("GET", "/admin/staff/{staff_id}/ports"): {},
    ("POST", "/admin/staff/{staff_id}/ports"): {"scope": "all"},
    ("GET", "/admin/staff/{staff_id}/{action}"): {},
    ("POST", "/admin/staff/{staff_id}/{action}"): {},
}
# Choosing ports is refused to an administrator limited to some, whoever the account is.
NOT_FOR_LIMITED = {
    ("PUT", "/api/v1/staff/accounts/{staff_id}/ports"),
    ("GET", "/admin/staff/{staff_id}/ports"),
    ("POST", "/admin/staff/{staff_id}/ports"),
}
# A liaison officer is never limited to ports: their own body bounds what they see
# (tests/liaison, tests/admin/test_liaison_pages.py).
LIAISON_ONLY = {"work_referrals"}
# The taxonomy is one for every port: nothing in it belongs to a port.
OF_NO_PORT = ("/api/v1/categories/", "/admin/categories/")


def _named_routes(client: TestClient) -> list[tuple[str, str, set[str]]]:
    """(method, path, permissions) of every staff route with an object in its path."""
    found = []
    for walked in walk(client.app.routes):  # type: ignore[attr-defined]
        if (
            "{" not in walked.path
            or "public" in walked.marks
            or walked.marks <= LIAISON_ONLY
            or walked.path.startswith(OF_NO_PORT)
        ):
            continue
        for method in sorted(walked.route.methods or ()):
            found.append((method, walked.path, walked.marks))
    return found


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda found: values[found.group(1)], path)


def _values(ports: Ports, path: str, *, hidden: bool) -> dict[str, str]:
    """What each path parameter is, for the NHV object or for one that does not exist."""
    reference = ports.nhv_referral if "referral" in path else ports.nhv_report
    if _names_a_case_by_reference(path):
        reference = ports.nhv_case_reference
    code = ports.nhv_body if "/bodies/" in path else "NHV"
    found = {
        "case_id": str(ports.nhv_case),
        "reference": reference,
        "seq": str(ports.nhv_question if "questions" in path else 1),
        "job_id": str(ports.nhv_job),
        "body": "customs",
        "code": code,
        "rule_id": str(ports.nhv_rule),
        "staff_id": str(ports.everyone.id),
        "document": "export.json",
        "zone": "ct-north",
        "number_id": "1",
        "action": "deactivate" if "/bodies/" in path else "reset-second-factor",
        "report": ports.nhv_report,
    }
    if not hidden:
        found |= {
            "case_id": str(NOTHING),
            "reference": (
                "C-NOTHING0"
                if _names_a_case_by_reference(path)
                else "F-NOTHING00"
                if "referral" in path
                else "R-NOTHING00"
            ),
            "job_id": str(NOTHING),
            "code": "no-such-body" if "/bodies/" in path else "XXX",
            "rule_id": str(NOTHING),
            "staff_id": str(NOTHING),
        }
    return found


def _ask(
    client: TestClient, method: str, path: str, csrf: str, ports: Ports, *, hidden: bool
) -> tuple[int, Any]:
    values = _values(ports, path, hidden=hidden)
    url = _fill(path, values)
    if path.startswith("/api/"):
        payload = JSON_BODIES[(method, path)]
        if payload is not None:
            payload = {
                key: _fill(value, values) if isinstance(value, str) else value
                for key, value in payload.items()
            }
        answer = client.request(method, url, json=payload, headers={"X-CSRF-Token": csrf})
        return answer.status_code, answer.json()["error"] if answer.status_code >= 400 else None
    form = {key: _fill(value, values) for key, value in FORMS[(method, path)].items()}
    if method == "GET":
        answer = client.get(url, params=form)
    else:
        answer = client.post(url, data={"csrf_token": csrf, **form})
    assert ports.nhv_report not in answer.text and ports.nhv_referral not in answer.text
    return answer.status_code, None


class TestEveryRouteOfAnotherPort:
    def test_every_route_naming_an_object_is_in_this_test(self, client: TestClient) -> None:
        named = {(method, path) for method, path, _marks in _named_routes(client)}
        assert named == set(JSON_BODIES) | set(FORMS)

    @pytest.mark.parametrize("role", [Role.triager, Role.administrator])
    def test_each_answers_as_for_an_object_that_does_not_exist(
        self, client: TestClient, session: Session, keyring: KeyRing, role: Role
    ) -> None:
        ports = _ports(client, session, keyring)
        held = session.get(Case, ports.nhv_case)
        assert held is not None
        held.legal_hold_reason = "An inquiry."  # so that releasing it would show
        session.add(held)
        session.commit()
        limited, secret = _limited(session, keyring, role, "KVL")
        csrf = sign_in_staff(client, limited, secret)["X-CSRF-Token"]
        allowed = {"triage", "read_routing", "own_account"} if role == Role.triager else set()
        if role == Role.administrator:
            allowed = {"manage_staff", "read_routing"}
        tried = 0
        for method, path, marks in _named_routes(client):
            hidden = _ask(client, method, path, csrf, ports, hidden=True)
            missing = _ask(client, method, path, csrf, ports, hidden=False)
            assert hidden == missing, (method, path, hidden, missing)
            if not marks & allowed:
                assert hidden[0] == 403, (method, path)  # the role never may, anywhere
            elif (method, path) in NOT_FOR_LIMITED:
                assert hidden[0] == 403, (method, path)
            else:
                assert hidden[0] == 404, (method, path, hidden)
                tried += 1
        assert tried > (20 if role == Role.triager else 10)
        # Nothing of NHV changed, and the triager's tries read nothing of it.
        case = session.get(Case, ports.nhv_case)
        assert case is not None
        session.refresh(case)
        assert case.status == "referred" and case.title == ""
        assert case.legal_hold_reason == "An inquiry."
        assert session.exec(select(CaseNote).where(CaseNote.case_id == ports.nhv_case)).all() == []
        views = session.exec(
            select(AuditEntry.action).where(
                AuditEntry.actor_id == limited.id, col(AuditEntry.action).startswith("case.")
            )
        ).all()
        assert views == []
        rule = session.get(RoutingRule, ports.nhv_rule)
        assert rule is not None and rule.name == "NHV seals to the NHV watch"
        nhv_body = session.exec(select(Body).where(Body.code == ports.nhv_body)).one()
        assert nhv_body.active and nhv_body.name == "Body nhv-watch"
        session.refresh(ports.everyone)
        assert ports.everyone.active and ports.everyone.totp_enabled


# Listings, counts and choices ----------------------------------------------------------------


class TestListingsOfATriager:
    def test_the_queue_its_counts_search_and_choices_hold_only_their_ports(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        ports = _ports(client, session, keyring)
        triager, secret = _limited(session, keyring, Role.triager, "KVL")
        sign_in_staff(client, triager, secret)
        queue = client.get("/api/v1/cases", params={"status": ["new", "referred"]}).json()
        ids = {row["id"] for row in queue["rows"]}
        assert ports.kvl_case in ids and ports.nhv_case not in ids
        by_reference = client.get("/api/v1/cases", params={"search": ports.nhv_report}).json()
        assert by_reference["total"] == 0 and by_reference["rows"] == []
        page = client.get("/admin/triage", params={"status": "referred"})
        assert page.status_code == 200
        assert ports.nhv_report not in page.text
        assert 'value="NHV"' not in page.text and 'value="NHV/' not in page.text
        assert 'value="KVL"' in page.text
        assert f'value="{ports.nhv_body}"' not in page.text
        assert f'value="{ports.kvl_body}"' in page.text
        chosen = client.get("/admin/triage", params={"port": "NHV"})
        assert chosen.status_code == 422 and "There is no such port." in chosen.text

    def test_the_dashboard_counts_only_their_ports(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        ports = _ports(client, session, keyring)
        everyone, secret = make_staff(session, keyring, role=Role.triager)
        sign_in_staff(client, everyone, secret)
        all_ports = client.get("/api/v1/dashboard").json()["reports_received"]
        only_kvl = client.get("/api/v1/dashboard", params={"port": "KVL"}).json()
        triager, secret = _limited(session, keyring, Role.triager, "KVL")
        sign_in_staff(client, triager, secret)
        mine = client.get("/api/v1/dashboard").json()
        assert mine["reports_received"] == only_kvl["reports_received"] < all_ports
        assert mine["cases_by_status"]["totals"] == only_kvl["cases_by_status"]["totals"]
        nhv = client.get("/api/v1/dashboard", params={"port": "NHV"})
        nothing = client.get("/api/v1/dashboard", params={"port": "XXX"})
        assert nhv.status_code == nothing.status_code == 422
        assert nhv.json()["error"] == nothing.json()["error"]
        csv = client.get("/api/v1/dashboard.csv", params={"port": "NHV"})
        assert csv.status_code == 422
        page = client.get("/admin/dashboard")
        assert page.status_code == 200 and 'value="NHV"' not in page.text
        assert mine["reports_received"] >= 1  # KVL's own report at least
        assert ports.kvl_case

    def test_the_case_of_their_port_is_theirs_with_its_choices_within_it(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        ports = _ports(client, session, keyring)
        triager, secret = _limited(session, keyring, Role.triager, "KVL")
        nhv_triager, _ = _limited(session, keyring, Role.triager, "NHV")
        headers = sign_in_staff(client, triager, secret)
        case = client.get(f"/api/v1/cases/{ports.kvl_case}")
        assert case.status_code == 200 and case.json()["port_code"] == "KVL"
        page = client.get(f"/admin/cases/{ports.kvl_case}")
        assert page.status_code == 200 and ports.kvl_report in page.text
        assert nhv_triager.email not in page.text  # a case goes to one who sees its port
        assert f'value="{ports.nhv_body}"' not in page.text
        draft = client.get(f"/api/v1/cases/{ports.kvl_case}/referral-draft").json()
        codes = {body["code"] for body in draft["bodies"]}
        assert ports.kvl_body in codes and "police-port-unit" in codes
        assert ports.nhv_body not in codes
        # A body of another port answers as one that does not exist.
        for code in (ports.nhv_body, "no-such-body"):
            refused = client.post(
                f"/api/v1/cases/{ports.kvl_case}/referrals",
                json={"body": code, "summary": "A seal.", "tlp": "AMBER"},
                headers=headers,
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["fields"][0]["message"] == (
                "There is no such receiving body."
            )
        assigned = client.patch(
            f"/api/v1/cases/{ports.kvl_case}",
            json={"assignee_id": nhv_triager.id},
            headers=headers,
        )
        assert assigned.status_code == 422
        # Linking a report of another port's case is as linking one that does not exist.
        linked = client.post(
            f"/api/v1/cases/{ports.kvl_case}/reports",
            json={"report": ports.nhv_report},
            headers=headers,
        )
        assert linked.status_code == 404
        assert linked.json()["error"]["message"] == "There is no such report."
        assert (
            client.post(f"/api/v1/cases/{ports.kvl_case}/acknowledge", headers=headers).status_code
            == 204
        )

    def test_rules_show_their_ports_and_every_port_but_no_hidden_body(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        ports = _ports(client, session, keyring)
        triager, secret = _limited(session, keyring, Role.triager, "KVL")
        sign_in_staff(client, triager, secret)
        ids = {rule["id"] for rule in client.get("/api/v1/routing-rules").json()}
        assert {ports.kvl_rule, ports.every_port_rule} <= ids
        assert ports.nhv_rule not in ids and ports.rule_of_hidden_body not in ids
        assert client.get(f"/api/v1/routing-rules/{ports.kvl_rule}").status_code == 200
        hidden = client.get(f"/api/v1/routing-rules/{ports.rule_of_hidden_body}")
        assert hidden.status_code == 404
        page = client.get("/admin/rules")
        assert "KVL seals to the KVL watch" in page.text
        assert "NHV seals to the NHV watch" not in page.text
        assert "Seals to the NHV watch" not in page.text


class TestAnAdministratorOfSomePorts:
    def test_sees_and_changes_only_what_lies_in_their_ports(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        ports = _ports(client, session, keyring)
        admin, secret = _limited(session, keyring, Role.administrator, "KVL")
        headers = sign_in_staff(client, admin, secret)
        assert [port["code"] for port in client.get("/api/v1/ports").json()] == ["KVL"]
        saved = client.put(
            "/api/v1/ports/KVL/deadlines",
            json={"acknowledge_days": 5, "feedback_days": 60},
            headers=headers,
        )
        assert saved.status_code == 200
        bodies = {body["code"] for body in client.get("/api/v1/bodies").json()}
        assert ports.kvl_body in bodies and "police-port-unit" in bodies
        assert ports.nhv_body not in bodies
        renamed = client.patch(
            f"/api/v1/bodies/{ports.kvl_body}", json={"name": "KVL watch"}, headers=headers
        )
        assert renamed.status_code == 200
        # A body that acts everywhere is seen but changed only by an administrator of every
        # port, and a body is given no port beyond one's own, nor every port.
        everywhere = client.patch(
            "/api/v1/bodies/police-port-unit", json={"name": "Police"}, headers=headers
        )
        assert everywhere.status_code == 403
        for reach in ([{"port": "NHV"}], []):
            widened = client.patch(
                f"/api/v1/bodies/{ports.kvl_body}", json={"jurisdiction": reach}, headers=headers
            )
            assert widened.status_code == 422, reach
        page = client.get("/admin/bodies")
        assert f"/admin/bodies/{ports.kvl_body}/edit" in page.text
        assert "/admin/bodies/police-port-unit/edit" not in page.text
        assert ports.nhv_body not in page.text
        form = client.get("/admin/bodies/new")
        assert 'value="KVL"' in form.text and 'value="NHV"' not in form.text
        # Rules: of their ports only; a rule of every port is seen, not changed.
        created = client.post(
            "/api/v1/routing-rules",
            json={"name": "KVL to customs", "body": "customs", "port": "KVL"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        for port in (None, "NHV"):
            refused = client.post(
                "/api/v1/routing-rules",
                json={"name": "Anywhere", "body": "customs", "port": port},
                headers=headers,
            )
            assert refused.status_code == 422, port
        changed = client.put(
            f"/api/v1/routing-rules/{ports.every_port_rule}",
            json={"name": "Renamed", "body": "police-port-unit"},
            headers=headers,
        )
        assert changed.status_code == 403
        assert (
            client.delete(
                f"/api/v1/routing-rules/{ports.every_port_rule}", headers=headers
            ).status_code
            == 403
        )

    def test_moving_a_rule_of_their_port_leaves_every_other_rule_in_its_order(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        ports = _ports(client, session, keyring)
        admin, secret = _limited(session, keyring, Role.administrator, "KVL")
        headers = sign_in_staff(client, admin, secret)
        others_before = [
            rule.id
            for rule in session.exec(
                select(RoutingRule).order_by(col(RoutingRule.position), col(RoutingRule.id))
            )
            if rule.id != ports.kvl_rule
        ]
        before = [rule["id"] for rule in client.get("/api/v1/routing-rules").json()]
        moved = client.post(
            f"/api/v1/routing-rules/{ports.kvl_rule}/move",
            json={"direction": "up"},
            headers=headers,
        )
        assert moved.status_code == 200
        seen = [rule["id"] for rule in moved.json()]
        assert ports.nhv_rule not in seen
        session.expire_all()
        order = [
            rule.id
            for rule in session.exec(
                select(RoutingRule).order_by(col(RoutingRule.position), col(RoutingRule.id))
            )
        ]
        assert [rule_id for rule_id in order if rule_id != ports.kvl_rule] == others_before
        # One place up among the rules they see, past hidden ones between.
        assert seen.index(ports.kvl_rule) == before.index(ports.kvl_rule) - 1
        assert sorted(seen) == sorted(before)

    def test_manages_only_accounts_of_their_ports_and_gives_new_ones_their_ports(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        admin, secret = _limited(session, keyring, Role.administrator, "KVL")
        colleague, _ = _limited(session, keyring, Role.triager, "KVL")
        everyone, _ = make_staff(session, keyring, role=Role.triager)
        headers = sign_in_staff(client, admin, secret)
        emails = {account["email"] for account in client.get("/api/v1/staff/accounts").json()}
        assert colleague.email in emails and everyone.email not in emails
        created = client.post(
            "/api/v1/staff/accounts",
            json={"email": "new-kvl@example.test", "role": "triager"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        assert created.json()["account"]["ports"] == ["KVL"]
        for refused in (
            {"email": "wide@example.test", "role": "triager", "ports": ["NHV"]},
            {"email": "auditor@example.test", "role": "auditor"},
        ):
            answer = client.post("/api/v1/staff/accounts", json=refused, headers=headers)
            assert answer.status_code == 403, refused
        page = client.get("/admin/staff")
        assert everyone.email not in page.text
        assert "New accounts get your ports: KVL." in page.text
        assert 'name="ports"' not in page.text
        assert re.search(r"/admin/staff/\d+/ports", page.text) is None


class TestChoosingPorts:
    def test_an_administrator_of_every_port_limits_an_account_through_the_api(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        admin, secret = make_staff(session, keyring, role=Role.administrator)
        triager, _ = make_staff(session, keyring, role=Role.triager)
        headers = sign_in_staff(client, admin, secret)
        url = f"/api/v1/staff/accounts/{triager.id}/ports"
        limited = client.put(url, json={"ports": ["KVL", "NHV", "KVL"]}, headers=headers)
        assert limited.status_code == 200 and limited.json()["ports"] == ["KVL", "NHV"]
        assert client.put(url, json={"ports": ["KVL"]}, headers=headers).json()["ports"] == ["KVL"]
        unknown = client.put(url, json={"ports": ["ATL"]}, headers=headers)
        assert unknown.status_code == 422
        assert unknown.json()["error"]["fields"][0]["message"] == "There is no port ATL."
        own = client.put(
            f"/api/v1/staff/accounts/{admin.id}/ports", json={"ports": ["KVL"]}, headers=headers
        )
        assert own.status_code == 409
        officer, _ = make_staff(
            session,
            keyring,
            role=Role.liaison,
            body_id=session.exec(select(Body.id)).first(),
        )
        liaison = client.put(
            f"/api/v1/staff/accounts/{officer.id}/ports", json={"ports": ["KVL"]}, headers=headers
        )
        assert liaison.status_code == 409
        changes = session.exec(
            select(AuditEntry.detail).where(
                AuditEntry.action == "staff.ports_changed", AuditEntry.object_id == str(triager.id)
            )
        ).all()
        assert changes == ['{"ports":"all -> KVL,NHV"}', '{"ports":"KVL,NHV -> KVL"}']
        assert staff_service.visible_ports(session=session, actor=triager) == frozenset(
            {_port_id(session, "KVL")}
        )

    def test_the_console_invites_with_ports_and_changes_them(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        admin, secret = make_staff(session, keyring, role=Role.administrator)
        headers = sign_in_staff(client, admin, secret)
        page = client.get("/admin/staff")
        assert 'id="scope-all" name="scope" value="all" checked' in page.text
        none_ticked = client.post(
            "/admin/staff",
            data={"email": "k@example.test", "role": "triager", "scope": "some"},
            headers=headers,
        )
        assert none_ticked.status_code == 422
        assert "Tick at least one port, or choose all ports." in none_ticked.text
        created = client.post(
            "/admin/staff",
            data={"email": "k@example.test", "role": "triager", "scope": "some", "ports": "KVL"},
            headers=headers,
        )
        assert created.status_code == 200, created.text
        account = session.exec(select(Staff).where(Staff.email == "k@example.test")).one()
        assert staff_service.port_codes(session=session, staff=account) == ["KVL"]
        entry = session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "staff.created", AuditEntry.object_id == str(account.id)
            )
        ).one()
        assert '"ports":"KVL"' in entry.detail
        form = client.get(f"/admin/staff/{account.id}/ports")
        assert form.status_code == 200
        assert 'id="port-KVL" name="ports" value="KVL" checked' in form.text
        saved = client.post(
            f"/admin/staff/{account.id}/ports", data={"scope": "all"}, headers=headers
        )
        assert saved.status_code == 303 or saved.url.path == "/admin/staff"
        assert staff_service.port_codes(session=session, staff=account) == []
        listing = client.get("/admin/staff")
        assert "All ports" in listing.text


class TestCommandLine:
    def test_staff_create_takes_ports_and_refuses_unknown_ones_and_other_roles(
        self, tmp_path: Path
    ) -> None:
        assert portline("demo", data_dir=tmp_path).returncode == 0
        helped = portline("staff", "create", "--help", data_dir=tmp_path)
        assert "--port CODE" in helped.stdout and "repeat it" in helped.stdout
        made = portline(
            "staff", "create", "--role", "triager", "--email", "kvl@example.test",
            "--port", "KVL", "--port", "NHV",
            data_dir=tmp_path,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert "It sees only the ports KVL, NHV." in made.stdout
        unknown = portline(
            "staff", "create", "--role", "triager", "--email", "x@example.test",
            "--port", "ATL",
            data_dir=tmp_path,
        )  # fmt: skip
        assert unknown.returncode == 1 and "There is no port ATL." in unknown.stderr
        auditor = portline(
            "staff", "create", "--role", "auditor", "--email", "a@example.test",
            "--port", "KVL",
            data_dir=tmp_path,
        )  # fmt: skip
        assert auditor.returncode == 1
        assert "Only triagers and administrators can be limited" in auditor.stderr
        from sqlalchemy import create_engine, text

        engine = create_engine(f"sqlite:///{tmp_path / 'portline.db'}")
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT staff.email, port.code FROM staff_port"
                    " JOIN staff ON staff.id = staff_port.staff_id"
                    " JOIN port ON port.id = staff_port.port_id ORDER BY port.code"
                )
            ).all()
            emails = connection.execute(text("SELECT email FROM staff")).scalars().all()
        engine.dispose()
        assert [tuple(row) for row in rows] == [
            ("kvl@example.test", "KVL"),
            ("kvl@example.test", "NHV"),
        ]
        assert "x@example.test" not in emails and "a@example.test" not in emails

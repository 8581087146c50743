"""The no-JavaScript report form: only the chosen port's parts are offered, the review
shows the cargo answer, and "nobody excluded" has one wording."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.mobile.test_pages import REPORT, post_step, walk_to_review


def _offered_zones(page: str) -> set[str]:
    """The zone codes a browser without JavaScript offers: those outside hidden groups."""
    select = page[
        page.index('<select id="zone"') : page.index("</select>", page.index('<select id="zone"'))
    ]
    offered = set()
    for group in re.finditer(r"<optgroup [^>]*>(.*?)</optgroup>", select, re.S):
        if " hidden disabled" not in group.group(0).split(">", 1)[0]:
            offered |= set(re.findall(r'<option value="([^"]+)"', group.group(1)))
    return offered


def _where_step(client: TestClient, **values: Any) -> str:
    """The form's "where" step reached without JavaScript, posted again with ``values``
    through the step's own button when there are any."""
    page = client.get("/report?lang=en").text
    chosen: dict[str, Any] = {"kind": REPORT["kind"]}
    page = post_step(client, page, "kind", **chosen).text
    chosen["category"] = REPORT["category"]
    page = post_step(client, page, "category", **chosen).text
    assert 'name="step" value="where"' in page
    if values:
        page = post_step(client, page, "where", go="edit:where", **chosen, **values).text
    return str(page)


class TestThePortsParts:
    def test_before_a_port_is_chosen_no_port_s_parts_are_offered_and_a_button_lists_them(
        self, client: TestClient
    ) -> None:
        page = _where_step(client)
        assert _offered_zones(page) == set()
        assert (
            'value="edit:where" formnovalidate data-list-zones>List the parts of this port' in page
        )

    def test_once_a_port_is_chosen_only_its_parts_are_offered(self, client: TestClient) -> None:
        page = _where_step(client, port="KVL")
        offered = _offered_zones(page)
        assert "ferry" in offered and "gate" in offered
        assert "ct-north" not in offered  # a part of NHV
        assert 'name="step" value="where"' in page  # the same step, nothing lost

    def test_a_port_s_own_link_lists_its_parts_from_the_start(self, client: TestClient) -> None:
        page = client.get("/report?lang=en&port=NHV").text
        assert "ct-north" in _offered_zones(page) and "bulk-quay" not in _offered_zones(page)


class TestTheReview:
    def test_the_cargo_answer_is_on_the_review_with_a_way_to_change_it(
        self, client: TestClient
    ) -> None:
        review = walk_to_review(client)
        row = re.search(r'<div data-review-row="cargo_direction"[^>]*>(.*?)</div>', review, re.S)
        assert row is not None and " hidden" not in row.group(0).split(">", 1)[0]
        assert "Which cargo does it concern?" in row.group(1)
        assert '<dd data-review-item="cargo_direction">Outbound' in row.group(1)
        assert 'value="edit:where"' in row.group(1)

    def test_nobody_excluded_reads_the_same_with_and_without_javascript(
        self, client: TestClient
    ) -> None:
        review = walk_to_review(client)
        assert "Nobody excluded" not in review
        assert 'data-nobody="No organisation excluded"' in review

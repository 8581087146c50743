from __future__ import annotations

from fastapi.testclient import TestClient


class TestPublicConfig:
    def test_the_demo_port_comes_with_zones_taxonomy_bodies_and_emergency_numbers(
        self, client: TestClient
    ) -> None:
        config = client.get("/api/v1/public/config").json()
        ports = {port["code"]: port for port in config["ports"]}
        norderhaven = ports["NHV"]
        assert len(norderhaven["zones"]) >= 8
        kinds = {zone["kind"] for zone in norderhaven["zones"]}
        assert {
            "container_terminal",
            "gate",
            "berth",
            "back_office",
            "anchorage",
            "port_city",
        } <= kinds
        assert any(number["number"] == "112" for number in norderhaven["emergency_numbers"])
        assert {category["kind"] for category in config["categories"]} == {"integrity", "incident"}
        assert len(config["categories"]) == 20
        assert [kind["code"] for kind in config["kinds"]] == ["integrity", "incident"]
        assert {d["code"] for d in config["cargo_directions"]} == {
            "inbound",
            "outbound",
            "transhipment",
            "not_applicable",
        }
        assert "customs" in {body["code"] for body in config["excludable_bodies"]}
        assert config["limits"]["allowed_types"] == ["image/jpeg", "image/png", "image/webp"]

    def test_eight_languages_are_offered_and_arabic_reads_right_to_left(
        self, client: TestClient
    ) -> None:
        languages = client.get("/api/v1/public/config").json()["languages"]
        assert [language["code"] for language in languages] == [
            "en",
            "fr",
            "nl",
            "de",
            "es",
            "it",
            "pt",
            "ar",
        ]
        assert {language["code"]: language["direction"] for language in languages}["ar"] == "rtl"

    def test_the_language_follows_the_query_then_accept_language(self, client: TestClient) -> None:
        assert client.get("/api/v1/public/config?lang=nl").json()["language"] == "nl"
        asked = client.get("/api/v1/public/config", headers={"Accept-Language": "pt-BR,en;q=0.5"})
        assert asked.json()["language"] == "pt"
        assert client.get("/api/v1/public/config?lang=xx").json()["language"] == "en"

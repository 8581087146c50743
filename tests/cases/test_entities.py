"""Shared entities in report text: container numbers, IMO numbers and truck plates.

Every check-digit example below is worked out by hand in its comment, so that a pass
cannot come from the code agreeing with itself. Letter values (ISO 6346): A10 B12 C13 D14
E15 F16 G17 H18 I19 J20 K21 L23 M24 N25 O26 P27 Q28 R29 S30 T31 U32 V34 W35 X36 Y37 Z38;
position weights 1 2 4 8 16 32 64 128 256 512.
"""

from __future__ import annotations

import pytest

from api.cases.entities import Entity, container_check_digit, extract_entities, imo_is_valid


def container(value: str) -> Entity:
    return Entity("container", value)


def imo(value: str) -> Entity:
    return Entity("imo", value)


def plate(value: str) -> Entity:
    return Entity("plate", value)


class TestContainerCheckDigit:
    def test_the_letter_values_skip_the_multiples_of_eleven(self) -> None:
        # AAAA000000 = 10 × (1 + 2 + 4 + 8) = 150 = 13 × 11 + 7.
        assert container_check_digit("AAAA000000") == 7
        # One letter at the first position, weight 1: the check digit is its value mod 11 mod 10.
        assert [container_check_digit(f"{letter}AAA000000") for letter in "KLUVZ"] == [
            (value + 140) % 11 % 10 for value in (21, 23, 32, 34, 38)
        ]

    def test_the_textbook_example_csqu_305438_has_check_digit_3(self) -> None:
        # C13×1 + S30×2 + Q28×4 + U32×8 = 13 + 60 + 112 + 256 = 441
        # 3×16 + 0×32 + 5×64 + 4×128 + 3×256 + 8×512 = 48 + 0 + 320 + 512 + 768 + 4096 = 5744
        # 441 + 5744 = 6185 = 562 × 11 + 3
        assert container_check_digit("CSQU305438") == 3

    def test_the_bic_example_bicu_123456_has_check_digit_5(self) -> None:
        # B12 + I19×2 + C13×4 + U32×8 = 12 + 38 + 52 + 256 = 358
        # 1×16 + 2×32 + 3×64 + 4×128 + 5×256 + 6×512 = 16 + 64 + 192 + 512 + 1280 + 3072 = 5136
        # 358 + 5136 = 5494 = 499 × 11 + 5
        assert container_check_digit("BICU123456") == 5

    def test_mscu_123456_has_check_digit_6_not_5(self) -> None:
        # M24 + S30×2 + C13×4 + U32×8 = 24 + 60 + 52 + 256 = 392; serial 123456 gives 5136.
        # 392 + 5136 = 5528 = 502 × 11 + 6
        assert container_check_digit("MSCU123456") == 6

    def test_maeu_609817_has_check_digit_0(self) -> None:
        # M24 + A10×2 + E15×4 + U32×8 = 24 + 20 + 60 + 256 = 360
        # 6×16 + 0×32 + 9×64 + 8×128 + 1×256 + 7×512 = 96 + 0 + 576 + 1024 + 256 + 3584 = 5536
        # 360 + 5536 = 5896 = 536 × 11 + 0
        assert container_check_digit("MAEU609817") == 0

    def test_maeu_123456_has_check_digit_7(self) -> None:
        # 360 + 5136 = 5496 = 499 × 11 + 7
        assert container_check_digit("MAEU123456") == 7

    def test_a_remainder_of_10_gives_check_digit_0(self) -> None:
        # 392 + (1×16 + 2×32 + 3×64 + 4×128 + 5×256 + 3×512 = 3600) = 3992 = 362 × 11 + 10
        assert container_check_digit("MSCU123453") == 0

    def test_a_chassis_number_in_category_z_is_checked_the_same_way(self) -> None:
        # T31 + G17×2 + H18×4 + Z38×8 = 31 + 34 + 72 + 304 = 441
        # 1×16 + 2×128 = 272; 441 + 272 = 713 = 64 × 11 + 9
        assert container_check_digit("TGHZ100200") == 9

    def test_only_the_first_ten_characters_count_and_case_does_not(self) -> None:
        assert container_check_digit("CSQU3054383") == 3
        assert container_check_digit("csqu305438") == 3

    @pytest.mark.parametrize("bad", ["CSQU30543", "CSQ1305438", "CSQU 305438", "1234567890", ""])
    def test_anything_but_four_letters_and_six_digits_is_refused(self, bad: str) -> None:
        with pytest.raises(ValueError, match="four letters and six digits"):
            container_check_digit(bad)


class TestImoIsValid:
    def test_the_standard_example_9074729_is_valid(self) -> None:
        # 9×7 + 0×6 + 7×5 + 4×4 + 7×3 + 2×2 = 63 + 0 + 35 + 16 + 21 + 4 = 139 → 9
        assert imo_is_valid("9074729")
        assert imo_is_valid("IMO 9074729")
        assert imo_is_valid("IMO9074729")

    def test_9176187_is_valid(self) -> None:
        # 9×7 + 1×6 + 7×5 + 6×4 + 1×3 + 8×2 = 63 + 6 + 35 + 24 + 3 + 16 = 147 → 7
        assert imo_is_valid("9176187")

    def test_9321483_is_valid(self) -> None:
        # 9×7 + 3×6 + 2×5 + 1×4 + 4×3 + 8×2 = 63 + 18 + 10 + 4 + 12 + 16 = 123 → 3
        assert imo_is_valid("9321483")

    @pytest.mark.parametrize(
        "bad",
        [
            "9074728",  # 139 → 9, not 8
            "9176186",  # 147 → 7, not 6
            "907472",  # six digits
            "90747290",  # eight digits
            "٩٠٧٤٧٢٩",  # Arabic-Indic digits are not an IMO number's digits
            "IMO",
            "",
        ],
    )
    def test_a_wrong_check_digit_or_length_is_invalid(self, bad: str) -> None:
        assert not imo_is_valid(bad)


class TestContainersInText:
    def test_a_french_narrative_with_a_spaced_number(self) -> None:
        text = "Le conteneur MSCU 123456 6 a été ouvert sur le quai 7 le 2026-11-27 à 14:30."
        assert extract_entities(text) == [container("MSCU1234566")]

    def test_a_dutch_narrative_with_a_dashed_lowercase_number(self) -> None:
        text = "Om 03:15 is container maeu-609817-0 van de kade gehaald zonder papieren."
        assert extract_entities(text) == [container("MAEU6098170")]

    def test_an_arabic_narrative_around_a_latin_number(self) -> None:
        text = "تم فتح الحاوية CSQU3054383 في الرصيف رقم ٤ ليلاً، والحاوية BICU 123456 5 أيضاً."
        assert extract_entities(text) == [container("CSQU3054383"), container("BICU1234565")]

    def test_arabic_letters_touching_the_number_do_not_hide_it(self) -> None:
        assert extract_entities("الحاويةCSQU3054383فتحت") == [container("CSQU3054383")]

    def test_a_wrong_check_digit_is_rejected(self) -> None:
        # MSCU 123456 checks to 6 (see above); the 5 of a mistyped number must not link reports.
        assert extract_entities("Le conteneur MSCU 123456 5 a été ouvert.") == []
        assert extract_entities("CSQU3054384 and CSQU 305438 2") == []

    def test_a_word_in_mixed_case_is_not_an_owner_code(self) -> None:
        # "Thru" + 123456 + 5 would check: T31 + H18×2 + R29×4 + U32×8 = 439; 439 + 5136 = 5575
        # = 506 × 11 + 9, so use 9 to prove that the case rule, not the check digit, refuses it.
        assert extract_entities("THRU 123456 9") == [container("THRU1234569")]
        assert extract_entities("Thru 123456 9") == []

    def test_a_number_inside_a_longer_code_is_not_read(self) -> None:
        assert extract_entities("XCSQU3054383 CSQU30543831 REF-CSQU3054383") == [
            container("CSQU3054383")
        ]


class TestImoNumbersInText:
    @pytest.mark.parametrize(
        "text",
        [
            "The bulk carrier IMO 9074729 was berthed at quay 12.",
            "Het schip (IMO9074729) lag aan de kade.",
            "Le navire, imo no. 9074729, a quitté le port.",
            "Das Schiff mit IMO-Nr. 9074729 lag am Kai.",
            "Le navire IMO n° 9074729 est à quai.",
            "السفينة IMO: 9074729 في الميناء",
        ],
    )
    def test_the_prefix_in_many_forms_and_languages(self, text: str) -> None:
        assert extract_entities(text) == [imo("IMO9074729")]

    def test_a_wrong_check_digit_is_rejected(self) -> None:
        assert extract_entities("Vessel IMO 9074728 reported.") == []

    def test_a_seven_digit_number_without_the_prefix_is_not_an_imo_number(self) -> None:
        # 9176187 is a valid IMO number, but without "IMO" it may be anything.
        assert extract_entities("Invoice 9176187 was paid; call 9074729 for details.") == []

    def test_longer_numbers_such_as_an_mmsi_are_not_cut_down(self) -> None:
        assert extract_entities("IMO 90747291, IMO 244123456") == []


class TestPlatesInText:
    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("De vrachtwagen met kenteken 12-BDF-3 reed weg.", "12BDF3"),  # sidecode 7
            ("Trekker BD-123-F stond bij de poort.", "BD123F"),  # sidecode 9
            ("Kenteken 1-BDF-23, chauffeur onbekend.", "1BDF23"),  # sidecode 8
            ("Oplegger BDF-12-G werd geladen.", "BDF12G"),  # sidecode 11
            ("De trailer WB-12-HN stond open.", "WB12HN"),  # sidecode 4
            ("Le camion belge 1-ABC-123 attendait.", "1ABC123"),
            ("Der LKW HH-AB 1234 stand am Tor.", "HHAB1234"),
            ("Ein Wagen B-MW 123 fuhr vorbei.", "BMW123"),
            ("Le camion AB-123-CD est entré au terminal.", "AB123CD"),
            ("El camión 1234 BCD salió del puerto.", "1234BCD"),
            ("Il camion AB 123 CD era al cancello.", "AB123CD"),
            ("Ciężarówka WX 12345 stała przy bramie.", "WX12345"),
            ("شاحنة تحمل اللوحة 12-BDF-3 غادرت الميناء", "12BDF3"),
        ],
    )
    def test_each_country_format_in_a_sentence(self, text: str, value: str) -> None:
        assert extract_entities(text) == [plate(value)]

    @pytest.mark.parametrize(
        "text",
        [
            "kenteken 12-bdf-3",  # lowercase
            "kenteken 12BDF3",  # run together
            "camión 1234BCD",  # run together
            "AB-123-C en 12-ABC-3",  # vowels and C never appear on Dutch plates
            "postcode 3089 JB Rotterdam",  # a Dutch postcode
            "THE SHIP LEFT AT NOON AND NOBODY SAW IT",
        ],
    )
    def test_what_is_not_written_as_a_plate_is_not_one(self, text: str) -> None:
        assert extract_entities(text) == []

    @pytest.mark.parametrize(
        "text",
        [
            "UN-NR 1203 was leaking",  # a dangerous-goods number
            "lashing to EN 12195 was missing",  # a standard
            "certified DIN-EN 1090 and ISO 28000",
            "PO 12345 and BL 54321 were not on board",  # trade references
            "the gate closed at 1400 HRS",
            "weight 1200 KGS, 1500 PCS, 1800 CBM",
            "he left AT 530 PM",
        ],
    )
    def test_references_units_and_times_in_capitals_are_not_plates(self, text: str) -> None:
        assert extract_entities(text) == []


class TestFalsePositives:
    @pytest.mark.parametrize(
        "text",
        [
            "Op 2026-11-27 om 14:30 en op 27-11-2026 om 03:15.",
            "Bel +31 59 000 1400 of +32 3 229 00 00, of 0590001400.",
            "Der Preis war EUR 1234, danach EUR 12.345,50 und USD 12345.",
            "Le prix : 1.234 EUR ; 1 234,56 €.",
            "Het nummer 9074729 stond op de deur.",
            "Version 1.2-AB-3, file ABC-123-DEF-4, code X-99",
            "Container MSCU 123456 5 (check digit wrong) at 2026-11-27 14:30.",
        ],
    )
    def test_dates_times_phones_prices_and_bad_check_digits_yield_nothing(self, text: str) -> None:
        assert extract_entities(text) == []

    def test_a_container_number_is_not_also_read_as_a_plate(self) -> None:
        # "CU 123456" and "SCU 12345" are near plate shapes inside these numbers.
        text = "MSCU 123456 6, MSCU-123456-5, TGHZ 100200 9"
        assert extract_entities(text) == [container("MSCU1234566"), container("TGHZ1002009")]

    def test_a_number_after_a_plate_shape_keeps_it_from_being_one(self) -> None:
        assert extract_entities("Tel. WX 12345 678 or 1234 BCD 5") == []


class TestExtractEntities:
    def test_duplicates_in_different_spellings_collapse_to_one(self) -> None:
        text = (
            "MSCU 123456 6 was opened. Later mscu1234566 was sealed again; "
            "MSCU-123456-6 left on 12-BDF-3 (12-BDF-3), with IMO 9074729 and imo no. 9074729."
        )
        assert extract_entities(text) == [
            container("MSCU1234566"),
            plate("12BDF3"),
            imo("IMO9074729"),
        ]

    def test_the_order_of_first_appearance_is_kept_across_kinds(self) -> None:
        text = (
            "Le navire IMO 9176187 a déchargé le conteneur CSQU 305438 3 sur le camion "
            "AB-123-CD, puis la remorque 1-ABC-123 a pris MAEU 123456 7; le navire IMO 9074729 "
            "est arrivé ensuite. Encore une fois : CSQU3054383."
        )
        assert extract_entities(text) == [
            imo("IMO9176187"),
            container("CSQU3054383"),
            plate("AB123CD"),
            plate("1ABC123"),
            container("MAEU1234567"),
            imo("IMO9074729"),
        ]

    def test_a_mixed_language_report_finds_every_kind(self) -> None:
        text = (
            "Melding: de chauffeur van HH-AB 1234 zei dat container CSQU3054383 "
            "van het schip IMO 9321483 kwam. السائق قال إن الحاوية BICU 123456 5 فارغة."
        )
        assert extract_entities(text) == [
            plate("HHAB1234"),
            container("CSQU3054383"),
            imo("IMO9321483"),
            container("BICU1234565"),
        ]

    def test_text_without_entities_gives_an_empty_list(self) -> None:
        assert extract_entities("") == []
        assert extract_entities("Niemand heeft iets gezien.") == []

    def test_entities_are_frozen_and_hashable(self) -> None:
        entity = container("CSQU3054383")
        assert {entity, container("CSQU3054383")} == {entity}
        with pytest.raises(AttributeError):
            entity.value = "X"  # type: ignore[misc]

"""The attachment cleaner: pixels in, pixels out, nothing that could identify a reporter.

Every input is built here, with Pillow where it can write the metadata and with byte
surgery where it cannot (an EXIF thumbnail, IPTC, forged header sizes). The metadata
tests first check that the dirty input really carries what it is meant to, so that
a pass cannot come from metadata that was never there.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from api.errors import DomainError, Invalid, TooLarge, UnsupportedMediaType
from api.reports.files import ALLOWED_TYPES_TEXT, CleanFile, clean_file

FIELD = "report.files.2"
MiB = 1024 * 1024

RED = (220, 30, 30)
GREEN = (30, 200, 30)
BLUE = (30, 30, 220)
YELLOW = (230, 220, 30)

# Strings planted in the metadata of the dirty inputs; none may survive cleaning.
MAKE = "MARKER-CAMERA-MAKE"
GPS_DATUM = "MARKER-GPS-DATUM"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>MARKER-XMP</dc:creator></x:xmpmeta>'
COMMENT = b"MARKER-COMMENT"
IPTC_BYLINE = b"MARKER-IPTC-BYLINE"
THUMBNAIL_COMMENT = b"MARKER-THUMBNAIL"
PNG_TEXT = "MARKER-PNG-TEXT"
MARKERS = (
    MAKE.encode(),
    GPS_DATUM.encode(),
    b"MARKER-XMP",
    COMMENT,
    IPTC_BYLINE,
    THUMBNAIL_COMMENT,
    PNG_TEXT.encode(),
    b"Exif",
    b"http://ns.adobe.com",
    b"Photoshop 3.0",
    b"ICC_PROFILE",
)
LATITUDE = (51.0, 13.0, 37.4242)

TOO_MANY_PIXELS = "This picture has too many pixels (at most {limit} megapixels)."
DAMAGED = "This picture could not be read; it may be damaged."


# Building dirty inputs ------------------------------------------------------------


def quadrants(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """Red, green, blue and yellow quarters: easy to recognise after JPEG and rotation."""
    width, height = size
    picture = Image.new("RGB", size)
    picture.paste(RED, (0, 0, width // 2, height // 2))
    picture.paste(GREEN, (width // 2, 0, width, height // 2))
    picture.paste(BLUE, (0, height // 2, width // 2, height))
    picture.paste(YELLOW, (width // 2, height // 2, width, height))
    return picture.convert(mode)


def encode(picture: Image.Image, pillow_format: str, **options: object) -> bytes:
    output = io.BytesIO()
    picture.save(output, format=pillow_format, **options)
    return output.getvalue()


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = MAKE
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = LATITUDE
    gps[ExifTags.GPS.GPSMapDatum] = GPS_DATUM
    return exif


def with_thumbnail(exif: bytes, thumbnail: bytes) -> bytes:
    """Chain an IFD1 holding a JPEG thumbnail after IFD0; Pillow cannot write one."""
    assert exif.startswith(b"Exif\x00\x00")
    tiff = bytearray(exif[6:])
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
    (entries,) = struct.unpack_from(order + "H", tiff, ifd0)
    ifd1 = len(tiff) + len(tiff) % 2
    tiff += b"\x00" * (ifd1 - len(tiff))
    struct.pack_into(order + "I", tiff, ifd0 + 2 + 12 * entries, ifd1)
    thumbnail_offset = ifd1 + 2 + 2 * 12 + 4
    tiff += struct.pack(order + "H", 2)
    tiff += struct.pack(order + "HHII", 0x0201, 4, 1, thumbnail_offset)  # JPEGInterchangeFormat
    tiff += struct.pack(order + "HHII", 0x0202, 4, 1, len(thumbnail))  # ...FormatLength
    tiff += struct.pack(order + "I", 0)
    return b"Exif\x00\x00" + bytes(tiff) + thumbnail


def iptc_segment(byline: bytes) -> bytes:
    """An APP13 Photoshop segment with an IPTC By-line, as photo editors write it."""
    iptc = b"\x1c\x02\x50" + struct.pack(">H", len(byline)) + byline
    iptc += b"\x00" * (len(iptc) % 2)
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc))
    payload = b"Photoshop 3.0\x00" + resource + iptc
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def phone_jpeg(picture: Image.Image, exif: Image.Exif) -> bytes:
    """A JPEG with every kind of metadata a phone or editor might leave in it."""
    thumbnail = encode(quadrants((16, 12)), "JPEG", comment=THUMBNAIL_COMMENT)
    return encode(
        picture,
        "JPEG",
        quality=95,
        exif=with_thumbnail(exif.tobytes(), thumbnail),
        xmp=XMP,
        comment=COMMENT,
        icc_profile=srgb_profile(),
        dpi=(300, 300),
        extra=iptc_segment(IPTC_BYLINE),
    )


def png_chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size and whose pixel data is a token: a bomb's shape."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A small JPEG whose frame header is rewritten to claim another size."""
    data = bytearray(encode(quadrants(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


# Reading the cleaned output ---------------------------------------------------------


def jpeg_markers(data: bytes) -> list[int]:
    """The marker of every JPEG segment up to the start of the compressed pixels."""
    assert data[:2] == b"\xff\xd8"
    markers: list[int] = []
    position = 2
    while position < len(data):
        assert data[position] == 0xFF
        marker = data[position + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return markers
        (length,) = struct.unpack_from(">H", data, position + 2)
        position += 2 + length
    return markers


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds: list[bytes] = []
    position = 8
    while position < len(data):
        (length,) = struct.unpack_from(">I", data, position)
        kinds.append(data[position + 4 : position + 8])
        position += 12 + length
    return kinds


def riff_chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WEBP"
    kinds: list[bytes] = []
    position = 12
    while position < len(data):
        kinds.append(data[position : position + 4])
        (length,) = struct.unpack_from("<I", data, position + 4)
        position += 8 + length + length % 2
    return kinds


def reopen(clean: CleanFile) -> Image.Image:
    picture = Image.open(io.BytesIO(clean.content))
    picture.load()
    return picture


def assert_no_metadata(clean: CleanFile) -> None:
    for marker in MARKERS:
        assert marker not in clean.content
    picture = reopen(clean)
    assert not picture.getexif()
    for key in ("exif", "xmp", "comment", "icc_profile", "photoshop", "dpi"):
        assert key not in picture.info


def assert_colour(
    picture: Image.Image, xy: tuple[int, int], expected: tuple[int, int, int]
) -> None:
    """Close enough after lossy re-encoding: each channel within 40 of the original."""
    actual = picture.convert("RGB").getpixel(xy)
    assert isinstance(actual, tuple)
    assert all(abs(a - e) <= 40 for a, e in zip(actual, expected, strict=True)), actual


def clean(content: bytes, *, max_bytes: int = 10 * MiB, max_pixels: int = 40_000_000) -> CleanFile:
    return clean_file(content, field=FIELD, max_bytes=max_bytes, max_pixels=max_pixels)


def refusal(
    content: bytes,
    error_type: type[DomainError],
    *,
    max_bytes: int = 10 * MiB,
    max_pixels: int = 40_000_000,
) -> DomainError:
    with pytest.raises(error_type) as caught:
        clean(content, max_bytes=max_bytes, max_pixels=max_pixels)
    return caught.value


def field_message(error: DomainError) -> str:
    """The one field problem, which must name our field, as English text."""
    assert len(error.fields) == 1
    problem = error.fields[0]
    assert problem.field == FIELD
    return problem.message.format(**problem.params)


# The tests --------------------------------------------------------------------------


class TestCleanFileRemovesMetadata:
    def test_jpeg_gps_exif_xmp_comment_iptc_icc_and_thumbnail_are_removed(self) -> None:
        dirty = phone_jpeg(quadrants(), gps_exif())
        with Image.open(io.BytesIO(dirty)) as before:
            exif = before.getexif()
            assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] == LATITUDE
            assert 0x0201 in exif.get_ifd(ExifTags.IFD.IFD1)
            assert {"xmp", "comment", "icc_profile"} <= before.info.keys()
            assert IPTC_BYLINE in before.info["photoshop"][0x0404]
        assert THUMBNAIL_COMMENT in dirty

        cleaned = clean(dirty)

        assert cleaned.media_type == "image/jpeg"
        assert_no_metadata(cleaned)
        markers = jpeg_markers(cleaned.content)
        assert not [m for m in markers if 0xE1 <= m <= 0xEF or m == 0xFE]  # APP1-15, COM
        assert cleaned.content.count(b"\xff\xd8") == 1  # no embedded thumbnail JPEG

    def test_jpeg_still_shows_the_same_picture_at_the_same_size(self) -> None:
        cleaned = clean(phone_jpeg(quadrants((64, 48)), gps_exif()))

        picture = reopen(cleaned)
        assert (cleaned.width, cleaned.height) == picture.size == (64, 48)
        assert picture.format == "JPEG"
        assert_colour(picture, (8, 8), RED)
        assert_colour(picture, (56, 8), GREEN)
        assert_colour(picture, (8, 40), BLUE)
        assert_colour(picture, (56, 40), YELLOW)

    def test_bytes_after_the_end_of_a_jpeg_are_dropped(self) -> None:
        dirty = encode(quadrants(), "JPEG") + b"PK\x03\x04MARKER-TRAILER"

        cleaned = clean(dirty)

        assert b"MARKER-TRAILER" not in cleaned.content
        assert cleaned.content.endswith(b"\xff\xd9")

    def test_png_text_ztxt_itxt_exif_xmp_and_icc_chunks_are_removed(self) -> None:
        text = PngInfo()
        text.add_text("Author", PNG_TEXT)
        text.add_text("Comment", PNG_TEXT, zip=True)
        text.add_itxt("Description", PNG_TEXT, lang="en")
        text.add_itxt("XML:com.adobe.xmp", XMP.decode())
        dirty = encode(
            quadrants(),
            "PNG",
            pnginfo=text,
            exif=gps_exif(),
            icc_profile=srgb_profile(),
            dpi=(300, 300),
        )
        assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP", b"pHYs"} <= set(png_chunks(dirty))

        cleaned = clean(dirty)

        assert cleaned.media_type == "image/png"
        assert_no_metadata(cleaned)
        assert set(png_chunks(cleaned.content)) <= {b"IHDR", b"IDAT", b"IEND"}
        assert_colour(reopen(cleaned), (56, 40), YELLOW)

    def test_webp_exif_xmp_and_icc_chunks_are_removed(self) -> None:
        dirty = encode(quadrants(), "WEBP", exif=gps_exif(), xmp=XMP, icc_profile=srgb_profile())
        assert {b"EXIF", b"XMP ", b"ICCP"} <= set(riff_chunks(dirty))

        cleaned = clean(dirty)

        assert cleaned.media_type == "image/webp"
        assert_no_metadata(cleaned)
        assert set(riff_chunks(cleaned.content)) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}
        assert_colour(reopen(cleaned), (8, 40), BLUE)


class TestCleanFileKeepsThePicture:
    def test_exif_orientation_6_is_applied_and_leaves_no_orientation_tag(self) -> None:
        # Stored 64x48 with orientation 6: viewers show it turned 90° clockwise.
        dirty = phone_jpeg(quadrants((64, 48)), gps_exif(orientation=6))

        cleaned = clean(dirty)

        picture = reopen(cleaned)
        assert (cleaned.width, cleaned.height) == picture.size == (48, 64)
        assert ExifTags.Base.Orientation not in picture.getexif()
        assert_colour(picture, (40, 8), RED)  # the top-left quarter is now top right
        assert_colour(picture, (8, 8), BLUE)
        assert_colour(picture, (40, 56), GREEN)

    def test_a_jpeg_with_damaged_exif_is_still_cleaned(self) -> None:
        # An IFD that claims more entries than the segment holds: Pillow warns.
        damaged = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x40" + b"\x01" * 20
        cleaned = clean(encode(quadrants(), "JPEG", exif=damaged))

        assert_no_metadata(cleaned)
        assert reopen(cleaned).size == (64, 48)

    def test_an_animated_png_keeps_only_its_first_frame(self) -> None:
        frames = [Image.new("RGB", (20, 20), colour) for colour in (RED, BLUE, GREEN)]
        dirty = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
        assert b"acTL" in png_chunks(dirty)

        cleaned = clean(dirty)

        assert b"acTL" not in png_chunks(cleaned.content)
        picture = reopen(cleaned)
        assert getattr(picture, "n_frames", 1) == 1
        assert_colour(picture, (10, 10), RED)

    def test_an_animated_webp_keeps_only_its_first_frame(self) -> None:
        frames = [Image.new("RGB", (20, 20), colour) for colour in (RED, BLUE, GREEN)]
        dirty = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])
        assert b"ANIM" in riff_chunks(dirty)

        cleaned = clean(dirty)

        assert not {b"ANIM", b"ANMF"} & set(riff_chunks(cleaned.content))
        assert_colour(reopen(cleaned), (10, 10), RED)

    def test_a_cmyk_jpeg_becomes_rgb(self) -> None:
        dirty = encode(quadrants(mode="CMYK"), "JPEG", quality=95)
        assert Image.open(io.BytesIO(dirty)).mode == "CMYK"

        cleaned = clean(dirty)

        picture = reopen(cleaned)
        assert picture.mode == "RGB"
        assert_colour(picture, (8, 8), RED)
        assert 0xEE not in jpeg_markers(cleaned.content)  # no Adobe segment

    def test_a_greyscale_jpeg_stays_grey(self) -> None:
        cleaned = clean(encode(quadrants(mode="L"), "JPEG"))

        assert reopen(cleaned).mode == "L"

    def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped(self) -> None:
        deep = Image.new("I;16", (4, 1))
        for x, value in enumerate((0, 1000, 40000, 65535)):
            deep.putpixel((x, 0), value)
        dirty = encode(deep, "PNG")
        assert Image.open(io.BytesIO(dirty)).mode == "I;16"

        picture = reopen(clean(dirty))

        assert picture.mode == "L"
        assert picture.get_flattened_data() == (0, 3, 155, 255)

    def test_a_palette_png_with_transparency_keeps_its_transparency(self) -> None:
        palette = quadrants().quantize(colors=4)
        red_index = palette.getpixel((8, 8))
        dirty = encode(palette, "PNG", transparency=red_index)
        assert {b"PLTE", b"tRNS"} <= set(png_chunks(dirty))

        cleaned = clean(dirty)

        picture = reopen(cleaned)
        assert picture.mode == "RGBA"
        assert picture.getpixel((8, 8)) == (*RED, 0)
        assert picture.getpixel((56, 40)) == (*YELLOW, 255)
        assert not {b"PLTE", b"tRNS"} & set(png_chunks(cleaned.content))

    def test_a_grey_png_with_alpha_becomes_rgba(self) -> None:
        grey = Image.new("LA", (10, 10), (128, 0))
        grey.paste((200, 255), (0, 0, 5, 10))

        picture = reopen(clean(encode(grey, "PNG")))

        assert picture.mode == "RGBA"
        assert picture.getpixel((2, 2)) == (200, 200, 200, 255)
        assert picture.getpixel((8, 8)) == (128, 128, 128, 0)

    def test_a_webp_with_alpha_keeps_it(self) -> None:
        see_through = quadrants(mode="RGBA")
        see_through.putalpha(Image.new("L", see_through.size, 0))

        picture = reopen(clean(encode(see_through, "WEBP", lossless=True)))

        assert picture.mode == "RGBA"
        pixel = picture.getpixel((8, 8))
        assert isinstance(pixel, tuple)
        assert pixel[3] == 0

    def test_the_type_comes_from_the_bytes_whatever_the_content(self) -> None:
        assert clean(encode(quadrants(), "PNG")).media_type == "image/png"
        assert clean(encode(quadrants(), "WEBP")).media_type == "image/webp"
        assert clean(encode(quadrants(), "JPEG")).media_type == "image/jpeg"


class TestCleanFileRefuses:
    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF", id="pdf"),
            pytest.param(encode(quadrants(), "GIF"), id="gif"),
            pytest.param(b"Just some text, not a picture at all.\n", id="text"),
            pytest.param(b"", id="empty"),
            pytest.param(
                b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>',
                id="svg",
            ),
            pytest.param(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", id="heic"),
            pytest.param(b"PK\x03\x04" + b"\x00" * 30, id="zip"),
            pytest.param(encode(quadrants(), "BMP"), id="bmp"),
            pytest.param(encode(quadrants(), "TIFF"), id="tiff"),
            pytest.param(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28, id="wav"),
            pytest.param(b"\xff\xd8", id="two-bytes-of-jpeg"),
        ],
    )
    def test_anything_but_jpeg_png_and_webp_is_refused_naming_the_allowed_types(
        self, content: bytes
    ) -> None:
        error = refusal(content, UnsupportedMediaType)

        assert error.status == 415
        assert ALLOWED_TYPES_TEXT in field_message(error)

    def test_a_file_over_the_byte_limit_is_refused_with_the_limit_in_mb(self) -> None:
        too_big = encode(quadrants(), "PNG") + b"\x00" * MiB

        error = refusal(too_big, TooLarge, max_bytes=MiB)

        assert error.status == 413
        assert field_message(error) == "This file is larger than 1 MB."

    def test_the_byte_limit_comes_before_looking_at_the_type(self) -> None:
        error = refusal(b"%PDF" + b"\x00" * 2000, TooLarge, max_bytes=1024)

        assert error.status == 413
        assert field_message(error).endswith(" MB.")

    @pytest.mark.parametrize(
        "content",
        [
            # Above Pillow's own hard ceiling: Pillow raises DecompressionBombError.
            pytest.param(png_header_only(20_000, 20_000), id="png-400-megapixels"),
            # Above Pillow's warning threshold: the warning must not escape.
            pytest.param(png_header_only(10_000, 10_000), id="png-100-megapixels"),
            pytest.param(jpeg_claiming_size(65_000, 65_000), id="jpeg-4-gigapixels"),
            # Below Pillow's thresholds: only our own limit stops it.
            pytest.param(png_header_only(8_000, 6_000), id="png-48-megapixels"),
        ],
    )
    def test_a_picture_with_too_many_pixels_is_refused_before_decoding(
        self, content: bytes
    ) -> None:
        # The pixel data is a token that cannot fill the claimed size, so had it been
        # decoded, the message would say the picture is damaged instead.
        error = refusal(content, Invalid, max_pixels=40_000_000)

        assert error.status == 422
        assert field_message(error) == TOO_MANY_PIXELS.format(limit=40)

    def test_pillows_decompression_bomb_warning_never_escapes(self) -> None:
        # Where warnings are not errors, Pillow would warn and carry on; none may leak.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            error = refusal(png_header_only(10_000, 10_000), Invalid)

        assert field_message(error) == TOO_MANY_PIXELS.format(limit=40)
        assert caught == []

    def test_the_pixel_limit_applies_to_real_small_pictures_too(self) -> None:
        error = refusal(encode(quadrants((100, 100)), "PNG"), Invalid, max_pixels=5_000)

        assert error.status == 422
        assert field_message(error) == TOO_MANY_PIXELS.format(limit=0.005)

    def test_pillows_hard_ceiling_is_the_limit_reported_when_it_is_lower(self) -> None:
        error = refusal(png_header_only(20_000, 20_000), Invalid, max_pixels=200_000_000)

        assert field_message(error) == TOO_MANY_PIXELS.format(limit=179)

    @pytest.mark.parametrize(
        ("pillow_format", "keep"),
        [("JPEG", 0.5), ("PNG", 0.5), ("WEBP", 0.5), ("JPEG", 0.02)],
    )
    def test_a_truncated_picture_is_refused_as_damaged(
        self, pillow_format: str, keep: float
    ) -> None:
        whole = encode(quadrants((256, 256)), pillow_format)

        error = refusal(whole[: int(len(whole) * keep)], Invalid)

        assert error.status == 422
        assert field_message(error) == DAMAGED

    def test_garbage_behind_a_png_signature_is_refused_as_damaged(self) -> None:
        error = refusal(b"\x89PNG\r\n\x1a\n" + b"\xde\xad" * 50, Invalid)

        assert error.status == 422
        assert field_message(error) == DAMAGED

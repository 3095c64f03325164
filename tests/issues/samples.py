"""Small but real sample files, built in code, for tests that upload attachments.

Each function returns the bytes of a file of one type; ``uploaded()`` wraps bytes
as Django hands them to a view. The OLE2 files (HWP, DOC, XLS, PPT) are a valid
but empty compound file: a header, one FAT sector and a directory holding only
the root entry; nothing in the app looks deeper than the signature.
"""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

KOREAN_TEXT = "광주광역시 현안 보고: 도시철도 2호선 공정 점검\n"


def uploaded(name: str, data: bytes, content_type: str = "application/octet-stream"):
    """An in-memory upload, as a view receives a small file."""
    return SimpleUploadedFile(name, data, content_type=content_type)


def uploaded_on_disk(name: str, data: bytes, content_type: str = "application/octet-stream"):
    """A temporary-file upload, as a view receives a large one. Close it when done."""
    upload = TemporaryUploadedFile(name, content_type, len(data), None)
    upload.write(data)
    upload.seek(0)
    return upload


# --- PDF and images ---------------------------------------------------------


def pdf_bytes() -> bytes:
    """A one-page empty A4 PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def png_bytes() -> bytes:
    """A 1×1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1×1, 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """A 1×1 grey baseline JPEG: one block whose only codes are DC 0 and end-of-block."""

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    one_code = bytes([1] + [0] * 15) + b"\x00"  # a single 1-bit code for symbol 0
    return (
        b"\xff\xd8"
        + segment(0xDB, b"\x00" + bytes([1] * 64))  # quantisation table 0
        + segment(0xC0, struct.pack(">BHHB", 8, 1, 1, 1) + b"\x01\x11\x00")  # 1×1, 1 component
        + segment(0xC4, b"\x00" + one_code)  # DC table 0
        + segment(0xC4, b"\x10" + one_code)  # AC table 0
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")  # scan header
        + b"\x3f"  # bits 0 (DC difference 0), 0 (end of block), then padding 1s
        + b"\xff\xd9"
    )


def gif_bytes() -> bytes:
    """The classic 1×1 transparent GIF."""
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
        b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def webp_bytes() -> bytes:
    """A 1×1 lossless WebP."""
    return base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")


# --- OLE2 compound files: HWP 5.x, DOC, XLS, PPT --------------------------------

_FREE, _END_OF_CHAIN, _FAT_SECTOR, _NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def ole2_bytes() -> bytes:
    """An empty compound file (CFB v3): header, FAT in sector 0, directory in sector 1."""
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)  # CLSID
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)  # version 3, little-endian, 512/64
        + bytes(6)
        # directory sectors (0 in v3), FAT sectors, first directory sector, transaction,
        # mini-stream cutoff, first mini-FAT sector, mini-FAT sectors, first DIFAT, DIFATs
        + struct.pack("<9I", 0, 1, 1, 0, 4096, _END_OF_CHAIN, 0, _END_OF_CHAIN, 0)
        + struct.pack("<109I", 0, *[_FREE] * 108)
    )
    fat = struct.pack("<128I", _FAT_SECTOR, _END_OF_CHAIN, *[_FREE] * 126)
    name = "Root Entry".encode("utf-16-le") + b"\x00\x00"
    root = (
        name.ljust(64, b"\x00")
        + struct.pack("<HBB3I", len(name), 5, 1, _NO_STREAM, _NO_STREAM, _NO_STREAM)
        + bytes(16)  # CLSID
        + struct.pack("<IQQIQ", 0, 0, 0, _END_OF_CHAIN, 0)  # no mini stream
    )
    unused = bytes(66) + struct.pack("<3I", _NO_STREAM, _NO_STREAM, _NO_STREAM) + bytes(50)
    data = header + fat + root + unused * 3
    assert len(data) == 3 * 512
    return data


hwp_bytes = doc_bytes = xls_bytes = ppt_bytes = ole2_bytes


# --- ZIP containers: HWPX, OOXML, OpenDocument ---------------------------------


def zip_of(parts: dict[str, bytes | str], *, mimetype: str | None = None) -> bytes:
    """A ZIP of ``parts``; ``mimetype`` goes first and uncompressed, as HWPX and ODF require."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if mimetype is not None:
            archive.writestr(_zip_info("mimetype", zipfile.ZIP_STORED), mimetype)
        for name, data in parts.items():
            archive.writestr(_zip_info(name, zipfile.ZIP_DEFLATED), data)
    return buffer.getvalue()


def _zip_info(name: str, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2025, 3, 1, 9, 0, 0))
    info.compress_type = compression
    return info


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_HWPML = "http://www.hancom.co.kr/hwpml/2011"


def hwpx_bytes() -> bytes:
    """An HWPX (OWPML) package with one paragraph."""
    return zip_of(
        {
            "version.xml": _XML + f'<hv:HCFVersion xmlns:hv="{_HWPML}/version" '
            'tagetApplication="WORDPROCESSOR" major="5" minor="1" micro="0" '
            'buildNumber="0" xmlVersion="1.4"/>',
            "META-INF/container.xml": _XML
            + '<ocf:container xmlns:ocf="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<ocf:rootfiles><ocf:rootfile full-path="Contents/content.hpf" '
            'media-type="application/hwpml-package+xml"/></ocf:rootfiles></ocf:container>',
            "Contents/content.hpf": _XML
            + '<opf:package xmlns:opf="http://www.idpf.org/2007/opf/"><opf:manifest>'
            '<opf:item id="header" href="Contents/header.xml" media-type="application/xml"/>'
            '<opf:item id="section0" href="Contents/section0.xml" media-type="application/xml"/>'
            '</opf:manifest><opf:spine><opf:itemref idref="section0"/></opf:spine></opf:package>',
            "Contents/header.xml": _XML + f'<hh:head xmlns:hh="{_HWPML}/head" secCnt="1"/>',
            "Contents/section0.xml": _XML
            + f'<hs:sec xmlns:hs="{_HWPML}/section" xmlns:hp="{_HWPML}/paragraph">'
            f"<hp:p><hp:run><hp:t>{KOREAN_TEXT.strip()}</hp:t></hp:run></hp:p></hs:sec>",
        },
        mimetype="application/hwp+zip",
    )


_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_OOXML_TYPE = "application/vnd.openxmlformats-officedocument"


def _ooxml(main: str, main_type: str, parts: dict[str, str], overrides: str = "") -> bytes:
    content_types = (
        _XML + f'<Types xmlns="{_CT}">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main}" ContentType="{main_type}"/>{overrides}</Types>'
    )
    rels = (
        _XML + f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
        f'Type="{_OFFICE_REL}/officeDocument" Target="{main}"/></Relationships>'
    )
    return zip_of({"[Content_Types].xml": content_types, "_rels/.rels": rels, **parts})


def docx_bytes() -> bytes:
    """A Word document with one paragraph."""
    return _ooxml(
        "word/document.xml",
        f"{_OOXML_TYPE}.wordprocessingml.document.main+xml",
        {
            "word/document.xml": _XML
            + '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body><w:p><w:r><w:t>{KOREAN_TEXT.strip()}</w:t></w:r></w:p></w:body>"
            "</w:document>"
        },
    )


def xlsx_bytes() -> bytes:
    """A workbook with one sheet and one cell."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    return _ooxml(
        "xl/workbook.xml",
        f"{_OOXML_TYPE}.spreadsheetml.sheet.main+xml",
        {
            "xl/workbook.xml": _XML + f'<workbook xmlns="{main}" xmlns:r="{_OFFICE_REL}">'
            '<sheets><sheet name="현안" sheetId="1" r:id="rId1"/></sheets></workbook>',
            "xl/_rels/workbook.xml.rels": _XML
            + f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
            f'Type="{_OFFICE_REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
            "xl/worksheets/sheet1.xml": _XML + f'<worksheet xmlns="{main}"><sheetData>'
            '<row r="1"><c r="A1" t="inlineStr"><is><t>광주</t></is></c></row>'
            "</sheetData></worksheet>",
        },
        overrides='<Override PartName="/xl/worksheets/sheet1.xml" '
        f'ContentType="{_OOXML_TYPE}.spreadsheetml.worksheet+xml"/>',
    )


def pptx_bytes() -> bytes:
    """A presentation package (no slides; enough for type detection, not for PowerPoint)."""
    return _ooxml(
        "ppt/presentation.xml",
        f"{_OOXML_TYPE}.presentationml.presentation.main+xml",
        {
            "ppt/presentation.xml": _XML + "<p:presentation "
            'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>'
        },
    )


def _odf(mimetype: str, body: str) -> bytes:
    office = "urn:oasis:names:tc:opendocument:xmlns"
    manifest = (
        _XML + f'<manifest:manifest xmlns:manifest="{office}:manifest:1.0" manifest:version="1.2">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    content = (
        _XML + f'<office:document-content xmlns:office="{office}:office:1.0" '
        f'xmlns:text="{office}:text:1.0" office:version="1.2">'
        f"<office:body>{body}</office:body></office:document-content>"
    )
    return zip_of({"content.xml": content, "META-INF/manifest.xml": manifest}, mimetype=mimetype)


def odt_bytes() -> bytes:
    return _odf(
        "application/vnd.oasis.opendocument.text",
        f"<office:text><text:p>{KOREAN_TEXT.strip()}</text:p></office:text>",
    )


def ods_bytes() -> bytes:
    return _odf("application/vnd.oasis.opendocument.spreadsheet", "<office:spreadsheet/>")


def odp_bytes() -> bytes:
    return _odf("application/vnd.oasis.opendocument.presentation", "<office:presentation/>")


def zip_bytes() -> bytes:
    """A plain archive, which is not a document."""
    return zip_of({"보고서.txt": KOREAN_TEXT, "사진.png": png_bytes()})


# --- text ------------------------------------------------------------------------

_CSV = "기관,현안,상태\n광주도시공사,도시철도 2호선,진행 중\n광주문화재단,비엔날레 협력,완료\n"


def text_utf8_bytes() -> bytes:
    return KOREAN_TEXT.encode("utf-8")


def text_cp949_bytes() -> bytes:
    """Korean text as older Windows programs (Notepad, 한글 text export) save it."""
    return KOREAN_TEXT.encode("cp949")


def csv_bytes() -> bytes:
    """Korean CSV in UTF-8 with a BOM, as Excel's "CSV UTF-8" saves it."""
    return _CSV.encode("utf-8-sig")


def csv_cp949_bytes() -> bytes:
    """Korean CSV as Korean Excel's plain "CSV" saves it."""
    return _CSV.encode("cp949")


# --- refused types ---------------------------------------------------------------


def exe_bytes() -> bytes:
    """The start of a Windows program: DOS header and stub, then a PE signature."""
    dos = bytearray(64)
    dos[0:2] = b"MZ"
    stub = b"This program cannot be run in DOS mode.\r\n$".ljust(64, b"\x00")
    struct.pack_into("<I", dos, 0x3C, len(dos) + len(stub))  # where the PE header is
    coff = struct.pack("<HHIIIHH", 0x14C, 0, 0, 0, 0, 0, 0x0102)  # i386, executable
    return bytes(dos) + stub + b"PE\x00\x00" + coff


def html_bytes() -> bytes:
    return (
        "<!DOCTYPE html><html lang=ko><meta charset=utf-8><title>보고서</title>"
        "<script>fetch('/issues/').then(r => r.text())</script></html>\n"
    ).encode()


def svg_bytes() -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1">'
        b"<script>alert(document.cookie)</script></svg>\n"
    )

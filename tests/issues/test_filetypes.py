"""Attachments are accepted by what they are, not by what they are called."""

import contextlib
import io
import zipfile

import pytest
from django.utils import translation

from issues import filetypes
from issues.filetypes import (
    ALLOWED_EXTENSIONS,
    MAX_ATTACHMENT_SIZE,
    FileTypeError,
    detect,
    safe_download_name,
)
from tests.issues import samples
from tests.issues.samples import uploaded

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

ACCEPTED = [
    ("2025 업무보고.hwp", samples.hwp_bytes, "application/x-hwp"),
    ("2025 업무보고.hwpx", samples.hwpx_bytes, "application/hwp+zip"),
    ("회의록.pdf", samples.pdf_bytes, "application/pdf"),
    ("old.doc", samples.doc_bytes, "application/msword"),
    ("old.xls", samples.xls_bytes, "application/vnd.ms-excel"),
    ("old.ppt", samples.ppt_bytes, "application/vnd.ms-powerpoint"),
    ("보고서.docx", samples.docx_bytes, DOCX),
    ("예산.xlsx", samples.xlsx_bytes, XLSX),
    ("발표.pptx", samples.pptx_bytes, PPTX),
    ("보고서.odt", samples.odt_bytes, "application/vnd.oasis.opendocument.text"),
    ("예산.ods", samples.ods_bytes, "application/vnd.oasis.opendocument.spreadsheet"),
    ("발표.odp", samples.odp_bytes, "application/vnd.oasis.opendocument.presentation"),
    ("현장.png", samples.png_bytes, "image/png"),
    ("현장.jpg", samples.jpeg_bytes, "image/jpeg"),
    ("현장.jpeg", samples.jpeg_bytes, "image/jpeg"),
    ("현장.gif", samples.gif_bytes, "image/gif"),
    ("현장.webp", samples.webp_bytes, "image/webp"),
    ("메모.txt", samples.text_utf8_bytes, "text/plain"),
    ("메모.txt", samples.text_cp949_bytes, "text/plain"),
    ("목록.csv", samples.csv_bytes, "text/csv"),
    ("목록.csv", samples.csv_cp949_bytes, "text/csv"),
]


def refusal(name, data) -> FileTypeError:
    with pytest.raises(FileTypeError) as caught:
        detect(uploaded(name, data), name)
    return caught.value


@pytest.mark.parametrize(
    ("name", "make", "mime"), ACCEPTED, ids=lambda v: getattr(v, "__name__", v)
)
def test_each_allowed_type_is_accepted_with_its_mime_type(name, make, mime):
    assert detect(uploaded(name, make()), name) == mime


def test_every_allowed_extension_has_an_accepted_sample():
    assert {name.rsplit(".", 1)[1] for name, _, _ in ACCEPTED} == ALLOWED_EXTENSIONS


def test_the_extension_is_matched_whatever_its_case():
    assert detect(uploaded("보고서.HWP", samples.hwp_bytes()), "보고서.HWP") == "application/x-hwp"
    assert detect(uploaded("SCAN.Pdf", samples.pdf_bytes()), "SCAN.Pdf") == "application/pdf"


def test_an_image_under_another_image_extension_is_served_as_what_it_is():
    assert detect(uploaded("photo.jpg", samples.png_bytes()), "photo.jpg") == "image/png"


def test_a_pdf_may_start_after_a_bom_or_blank_lines():
    data = b"\xef\xbb\xbf\r\n" + samples.pdf_bytes()
    assert detect(uploaded("a.pdf", data), "a.pdf") == "application/pdf"


def test_a_file_on_disk_is_checked_like_one_in_memory():
    for name, data, mime in [
        ("보고서.docx", samples.docx_bytes(), DOCX),
        ("보고서.hwpx", samples.hwpx_bytes(), "application/hwp+zip"),
        ("목록.csv", samples.csv_bytes(), "text/csv"),
    ]:
        upload = samples.uploaded_on_disk(name, data)
        try:
            assert detect(upload, name) == mime
            assert upload.tell() == 0
        finally:
            upload.close()


def test_the_file_is_rewound_after_acceptance_and_after_refusal():
    for name, data in [("a.docx", samples.docx_bytes()), ("a.pdf", samples.png_bytes())]:
        upload = uploaded(name, data)
        upload.read(3)
        with contextlib.suppress(FileTypeError):
            detect(upload, name)
        assert upload.tell() == 0
        assert upload.read() == data


# --- renamed files -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("보고서.pdf", samples.png_bytes),
        ("보고서.hwp", samples.exe_bytes),
        ("보고서.hwp", samples.hwpx_bytes),
        ("보고서.hwpx", samples.hwp_bytes),
        ("보고서.hwpx", samples.docx_bytes),
        ("보고서.hwpx", samples.zip_bytes),
        ("보고서.docx", samples.zip_bytes),
        ("보고서.docx", samples.xlsx_bytes),
        ("예산.xlsx", samples.docx_bytes),
        ("발표.pptx", samples.docx_bytes),
        ("보고서.docx", samples.doc_bytes),
        ("보고서.doc", samples.docx_bytes),
        ("보고서.odt", samples.ods_bytes),
        ("예산.ods", samples.odt_bytes),
        ("보고서.odt", samples.docx_bytes),
        ("사진.png", samples.svg_bytes),
        ("사진.jpg", samples.html_bytes),
        ("사진.png", samples.exe_bytes),
        ("메모.txt", samples.exe_bytes),
        ("메모.txt", samples.png_bytes),
        ("목록.csv", samples.xlsx_bytes),
        ("회의록.pdf", samples.html_bytes),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_a_file_whose_content_is_not_what_its_extension_claims_is_refused(name, make):
    error = refusal(name, make())
    assert error.code == "mismatch"
    assert error.params["name"] == name


def test_a_program_with_a_document_glued_behind_it_is_refused():
    assert refusal("보고서.docx", samples.exe_bytes() + samples.docx_bytes()).code == "mismatch"
    assert refusal("보고서.pdf", samples.exe_bytes() + samples.pdf_bytes()).code == "mismatch"


def test_a_macro_workbook_renamed_xlsx_is_refused():
    data = samples.zip_of(
        {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<w/>", "xl/vbaProject.bin": "x"}
    )
    assert refusal("예산.xlsx", data).code == "mismatch"


def test_hwpx_needs_the_exact_mimetype():
    wrong = samples.zip_of({"Contents/section0.xml": "<x/>"}, mimetype="application/zip")
    assert refusal("a.hwpx", wrong).code == "mismatch"
    longer = samples.zip_of({}, mimetype="application/hwp+zip-not-really")
    assert refusal("a.hwpx", longer).code == "mismatch"


def test_a_truncated_or_corrupt_zip_is_refused():
    data = samples.docx_bytes()
    assert refusal("a.docx", data[: len(data) // 2]).code == "mismatch"
    assert refusal("a.hwpx", b"PK\x03\x04" + b"\x00" * 100).code == "mismatch"


def test_a_truncated_ole2_header_is_refused():
    assert refusal("a.hwp", samples.hwp_bytes()[:100]).code == "mismatch"


# --- zip bombs -------------------------------------------------------------------------


def test_no_part_of_a_zip_is_decompressed_except_a_tiny_mimetype(monkeypatch):
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    docx, xlsx, hwpx, odt = (
        samples.docx_bytes(),
        samples.xlsx_bytes(),
        samples.hwpx_bytes(),
        samples.odt_bytes(),
    )
    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    detect(uploaded("a.docx", docx), "a.docx")
    detect(uploaded("a.xlsx", xlsx), "a.xlsx")
    assert opened == []
    detect(uploaded("a.hwpx", hwpx), "a.hwpx")
    detect(uploaded("a.odt", odt), "a.odt")
    assert opened == ["mimetype", "mimetype"]


def test_a_huge_mimetype_part_is_refused_without_being_decompressed(monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/hwp+zip" + " " * 50_000_000)
    bomb = buffer.getvalue()
    assert len(bomb) < 100_000
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("decompressed"))
    assert refusal("a.hwpx", bomb).code == "mismatch"


def test_a_zip_with_too_many_parts_is_refused_before_it_is_parsed(monkeypatch):
    monkeypatch.setattr(filetypes, "MAX_ZIP_ENTRIES", 3)
    data = samples.docx_bytes()  # 3 parts: allowed
    assert detect(uploaded("a.docx", data), "a.docx") == DOCX
    parts = {"[Content_Types].xml": "<Types/>", "word/document.xml": "<d/>", "word/a": "", "b": ""}
    data = samples.zip_of(parts)
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("parsed"))
    assert refusal("a.docx", data).code == "mismatch"


# --- disallowed types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("setup.exe", samples.exe_bytes),
        ("보고서.hwp.exe", samples.exe_bytes),
        ("page.html", samples.html_bytes),
        ("page.htm", samples.html_bytes),
        ("logo.svg", samples.svg_bytes),
        ("app.js", lambda: b"alert(1)\n"),
        ("자료.zip", samples.zip_bytes),
        ("macro.docm", samples.docx_bytes),
        ("보고서", samples.hwp_bytes),
        ("hwp", samples.hwp_bytes),
        (".hwp", samples.hwp_bytes),
        ("보고서.pdf.", samples.pdf_bytes),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_a_type_that_is_not_allowed_is_refused_by_its_extension(name, make):
    assert refusal(name, make()).code == "not_allowed"


def test_an_empty_file_is_refused():
    assert refusal("빈 파일.txt", b"").code == "empty"


def test_a_file_larger_than_20_mb_is_refused_before_it_is_read():
    upload = uploaded("큰 파일.pdf", samples.pdf_bytes())
    upload.size = MAX_ATTACHMENT_SIZE + 1  # the size Django measured; no need for 20 MB here
    with pytest.raises(FileTypeError) as caught:
        detect(upload, "큰 파일.pdf")
    assert caught.value.code == "too_large"


def test_a_file_of_exactly_20_mb_is_allowed():
    upload = uploaded("큰 파일.pdf", samples.pdf_bytes())
    upload.size = MAX_ATTACHMENT_SIZE
    assert detect(upload, "큰 파일.pdf") == "application/pdf"


def test_refusals_tell_the_user_what_went_wrong():
    with translation.override("en"):
        assert str(refusal("a.exe", samples.exe_bytes())) == (
            "“a.exe” is not an allowed type of file. Allowed: HWP, HWPX, PDF, Word, Excel, "
            "PowerPoint, OpenDocument, images, text and CSV."
        )
        assert (
            str(refusal("a.pdf", samples.png_bytes())) == "“a.pdf” does not look like a PDF file."
        )
        assert str(refusal("a.hwp", samples.exe_bytes())) == (
            "“a.hwp” does not look like a Hangul (HWP) file."
        )
        assert str(refusal("a.txt", b"")) == "“a.txt” is empty."
    assert isinstance(refusal("a.exe", b"MZ"), ValueError)


# --- text and CSV -------------------------------------------------------------------------


def test_text_with_a_nul_byte_is_refused():
    assert refusal("메모.txt", b"hello\x00world").code == "mismatch"


def test_text_in_neither_utf8_nor_cp949_is_refused():
    assert refusal("메모.txt", "Grüße".encode("latin-1") + b"\xff").code == "mismatch"
    assert refusal("목록.csv", "이름,기관\n".encode("utf-16")).code == "mismatch"


def test_a_bom_promises_utf8():
    assert refusal("목록.csv", b"\xef\xbb\xbf" + samples.csv_cp949_bytes()).code == "mismatch"


@pytest.mark.parametrize("encoding", ["utf-8", "cp949"])
def test_a_korean_character_cut_by_the_64_kb_limit_is_not_a_refusal(encoding):
    char = "광".encode(encoding)
    prefix = b"a" * (64 * 1024 - 1)  # the 64 KB check ends after the first byte of the char
    data = prefix + char * 10 + b"\n"
    assert data[: 64 * 1024][-1:] == char[:1]
    assert detect(uploaded("긴 메모.txt", data), "긴 메모.txt") == "text/plain"


def test_a_korean_character_cut_at_the_real_end_of_a_file_is_a_refusal():
    data = "광주".encode()[:-1]
    assert refusal("메모.txt", data).code == "mismatch"


# --- download names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\evil\\보고서.hwp", "보고서.hwp"),
        (".hidden.pdf", "hidden.pdf"),
        ("...", "attachment"),
        ("", "attachment"),
        ("../", "attachment"),
        ("uploads/.pdf", "pdf"),
        ("보고\x00서\r\n.hwp", "보고서.hwp"),
        ("report\u202efdp.exe", "reportfdp.exe"),  # no right-to-left override
        ("a<b>:c|d?.pdf", "a_b__c_d_.pdf"),
        ("  회의   자료  .hwpx  ", "회의 자료.hwpx"),
        ("보고서.pdf.", "보고서.pdf"),
        ("2025. 3. 1. 회의록", "2025. 3. 1. 회의록"),
        ("\u1100\u1161\u11ab\u1100\u1161.txt", "간가.txt"),  # macOS sends decomposed Hangul
    ],
)
def test_safe_download_name(name, safe):
    assert safe_download_name(name) == safe


def test_a_very_long_korean_name_is_cut_to_150_characters_keeping_the_extension():
    name = "광주광역시 산하 공공기관 협력 현안 " * 20 + ".hwp"
    safe = safe_download_name(name)
    assert len(safe) <= 150
    assert safe.endswith(".hwp")
    assert safe.startswith("광주광역시 산하 공공기관")
    assert not safe.removesuffix(".hwp").endswith(" ")
    assert safe_download_name("가" * 200) == "가" * 150


def test_a_safe_name_of_an_allowed_file_is_still_allowed():
    name = safe_download_name("C:\\Users\\민지\\Desktop\\" + "보고" * 100 + ".HWPX")
    assert detect(uploaded(name, samples.hwpx_bytes()), name) == "application/hwp+zip"

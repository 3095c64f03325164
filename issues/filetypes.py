"""Which attached files we accept, decided by what the file *is*, not what it is called.

Attachments are opened by staff of other organizations, often on Windows with
Hangul Office, MS Office and a PDF reader installed, by double-clicking. A name is
whatever the uploader typed: an ``.exe`` renamed ``보고서.hwp`` or an HTML page
renamed ``.pdf`` must not reach them under a document's name and MIME type. So a
file passes only if its extension is on the list below AND its first bytes (or,
for ZIP-based formats, its list of parts) belong to the family that extension
claims; the stored MIME type then comes from this check, never from the browser.

Why hand-written: no maintained Python library recognises HWP/HWPX (Korea's
everyday office formats), and python-magic needs libmagic, which is not
guaranteed on the servers (and its answers vary between versions). The checks
are a few signatures plus ``zipfile`` for the ZIP containers, stdlib only.

What is read: a header, the ZIP central directory (bounded in size before
``zipfile`` parses it) and at most a few hundred bytes of a ``mimetype`` part;
nothing else is decompressed, so a ZIP bomb costs nothing. Text is checked on
its first 64 KB. OLE2 (HWP, DOC, XLS, PPT) is recognised by its signature only:
telling those four apart would need a compound-file parser.
"""

from __future__ import annotations

import codecs
import re
import struct
import unicodedata
import zipfile
import zlib

from django.utils.translation import gettext_lazy as _

MAX_ATTACHMENT_SIZE = 20 * 1024 * 1024

# extension -> (family, MIME type, what to call it in "does not look like a … file")
_TYPES = {
    "hwp": ("ole2", "application/x-hwp", _("Hangul (HWP)")),
    "hwpx": ("hwpx", "application/hwp+zip", _("Hangul (HWPX)")),
    "pdf": ("pdf", "application/pdf", "PDF"),
    "doc": ("ole2", "application/msword", _("Word (DOC)")),
    "xls": ("ole2", "application/vnd.ms-excel", _("Microsoft Excel (XLS)")),
    "ppt": ("ole2", "application/vnd.ms-powerpoint", _("PowerPoint (PPT)")),
    "docx": (
        "ooxml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _("Word (DOCX)"),
    ),
    "xlsx": (
        "ooxml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _("Microsoft Excel (XLSX)"),
    ),
    "pptx": (
        "ooxml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _("PowerPoint (PPTX)"),
    ),
    "odt": ("odf", "application/vnd.oasis.opendocument.text", _("document (ODT)")),
    "ods": ("odf", "application/vnd.oasis.opendocument.spreadsheet", _("spreadsheet (ODS)")),
    "odp": ("odf", "application/vnd.oasis.opendocument.presentation", _("presentation (ODP)")),
    "png": ("image", "image/png", _("PNG image")),
    "jpg": ("image", "image/jpeg", _("JPEG image")),
    "jpeg": ("image", "image/jpeg", _("JPEG image")),
    "gif": ("image", "image/gif", _("GIF image")),
    "webp": ("image", "image/webp", _("WebP image")),
    "txt": ("text", "text/plain", _("plain text")),
    "csv": ("text", "text/csv", "CSV"),
}

ALLOWED_EXTENSIONS = frozenset(_TYPES)

# The folder each OOXML document keeps its main part in.
_OOXML_FOLDER = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}

_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_SIGNATURE = b"PK\x03\x04"
_ZIP_END = b"PK\x05\x06"
# Real documents have tens to a few thousand parts. zipfile builds one object per
# entry of the central directory, so its size is checked before zipfile parses it:
# a 20 MB directory of empty entries would otherwise cost ~150 MB and seconds.
MAX_ZIP_ENTRIES = 20_000
MAX_ZIP_DIRECTORY = 2 * 1024 * 1024
_MIMETYPE_MAX = 256  # "application/vnd.oasis.opendocument.presentation" is 46 bytes
_TEXT_CHECKED = 64 * 1024

_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError)
_ZIP_ERRORS += (RuntimeError, KeyError, struct.error, zlib.error)


class FileTypeError(ValueError):
    """A refused file. ``str()`` is the message for the user, in the active language."""

    def __init__(self, code: str, message, **params):
        self.code = code  # "empty", "too_large", "not_allowed" or "mismatch"
        self.message = message
        self.params = params
        super().__init__(code, params)

    def __str__(self) -> str:
        return str(self.message) % self.params


def detect(file, name: str) -> str:
    """Return the MIME type of an uploaded file, or raise FileTypeError.

    ``file`` is a Django UploadedFile (in memory or on disk), ``name`` the name
    it was uploaded under. The file is left at position 0 either way.
    """
    size = _size(file)
    if size <= 0:
        raise FileTypeError("empty", _("“%(name)s” is empty."), name=name)
    if size > MAX_ATTACHMENT_SIZE:
        raise FileTypeError("too_large", _("“%(name)s” is larger than 20 MB."), name=name)
    extension = _extension(name)
    if extension not in _TYPES:
        raise FileTypeError(
            "not_allowed",
            _(
                "“%(name)s” is not an allowed type of file. Allowed: HWP, HWPX, PDF, Word, "
                "Excel, PowerPoint, OpenDocument, images, text and CSV."
            ),
            name=name,
        )
    family, mime, kind = _TYPES[extension]
    try:
        file.seek(0)
        found = _CHECKS[family](file, size, extension, mime)
    finally:
        file.seek(0)
    if found is None:
        raise FileTypeError(
            "mismatch", _("“%(name)s” does not look like a %(kind)s file."), name=name, kind=kind
        )
    return found


def _size(file) -> int:
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, 2)
        size = file.tell()
        file.seek(0)
    return size


def _extension(name: str) -> str:
    base = re.split(r"[/\\]", name or "")[-1]
    stem, dot, extension = base.rpartition(".")
    return extension.lower() if dot and stem else ""


def _check_ole2(file, size, extension, mime):
    return mime if size >= 512 and file.read(8) == _OLE2_SIGNATURE else None


def _check_pdf(file, size, extension, mime):
    # Readers tolerate junk before the header; we only tolerate a BOM and
    # whitespace, so a program with a PDF glued behind it is not a PDF.
    head = file.read(1024).removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n\f")
    return mime if head.startswith(b"%PDF-") else None


def _check_image(file, size, extension, mime):
    # Any of the four image formats under any image extension: a PNG saved as
    # .jpg is common and harmless, and it is served under its real type.
    head = file.read(16)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _check_text(file, size, extension, mime):
    head = file.read(_TEXT_CHECKED)
    if b"\x00" in head:
        return None
    final = size <= _TEXT_CHECKED  # otherwise a character may be cut at the end
    if head.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8"]
        head = head[len(codecs.BOM_UTF8) :]
    else:
        encodings = ["utf-8", "cp949"]  # CP949 is a superset of EUC-KR
    for encoding in encodings:
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=final)
        except UnicodeDecodeError:
            continue
        return mime
    return None


def _open_zip(file, size) -> zipfile.ZipFile | None:
    """The file as a ZipFile, having read its central directory only, or None."""
    if file.read(4) != _ZIP_SIGNATURE:  # also refuses self-extracting programs
        return None
    tail = min(size, 22 + 0xFFFF)  # end record plus the longest comment
    file.seek(size - tail)
    data = file.read(tail)
    end = data.rfind(_ZIP_END)
    if end < 0 or len(data) - end < 22:
        return None
    # ZIP64 marks these 0xFFFF / 0xFFFFFFFF, which the limits refuse too.
    entries, directory_size = struct.unpack_from("<HL", data, end + 10)
    if entries > MAX_ZIP_ENTRIES or directory_size > MAX_ZIP_DIRECTORY:
        return None
    file.seek(0)
    try:
        return zipfile.ZipFile(file)  # does not close ``file``: it did not open it
    except _ZIP_ERRORS:
        return None


def _check_mimetype_zip(file, size, extension, mime):
    # HWPX and OpenDocument name themselves in a tiny ``mimetype`` part. It is the
    # only part ever decompressed, and only if its declared size is tiny.
    archive = _open_zip(file, size)
    if archive is None:
        return None
    try:
        with archive:
            info = archive.getinfo("mimetype")
            if info.file_size > _MIMETYPE_MAX:
                return None
            with archive.open(info) as part:
                content = part.read(_MIMETYPE_MAX)
    except _ZIP_ERRORS:
        return None
    return mime if content.strip() == mime.encode() else None


def _check_ooxml(file, size, extension, mime):
    archive = _open_zip(file, size)
    if archive is None:
        return None
    with archive:
        names = archive.namelist()
    if "[Content_Types].xml" not in names:
        return None
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        return None  # macros: a .docm/.xlsm/.pptm in disguise
    folder = _OOXML_FOLDER[extension]
    return mime if any(name.startswith(folder) for name in names) else None


_CHECKS = {
    "ole2": _check_ole2,
    "pdf": _check_pdf,
    "image": _check_image,
    "text": _check_text,
    "hwpx": _check_mimetype_zip,
    "odf": _check_mimetype_zip,
    "ooxml": _check_ooxml,
}

_NAME_LIMIT = 150
_WINDOWS_FORBIDDEN = frozenset('<>:"|?*')


def safe_download_name(name: str) -> str:
    """A file name safe to store and to offer in Content-Disposition.

    Keeps Korean and other letters; drops folders, control and invisible
    formatting characters (e.g. right-to-left overrides that make ``exe.pdf``
    look like ``fdp.exe``), leading dots and characters Windows refuses; limits
    the name to 150 characters without losing the extension.
    """
    # Browsers on macOS send decomposed Hangul (NFD); store what people type.
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    kept = []
    for char in name:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs"):
            continue
        if category in ("Zs", "Zl", "Zp"):
            kept.append(" ")
        elif char in _WINDOWS_FORBIDDEN:
            kept.append("_")
        else:
            kept.append(char)
    name = " ".join("".join(kept).split())
    name = name.lstrip(". ").rstrip(". ")  # Windows drops trailing dots and spaces
    stem, dot, extension = name.rpartition(".")
    if dot and stem and extension.isascii() and extension.isalnum() and len(extension) <= 10:
        extension = "." + extension
    else:
        stem, extension = name, ""
    stem = stem[: _NAME_LIMIT - len(extension)].rstrip(". ")
    return (stem or "attachment") + extension

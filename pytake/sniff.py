"""Whether a file's first bytes are what its declared type says.

Browsers declare an upload's type from its name, and anyone can declare anything: an HTML
page sent as ``image/png`` would be stored and sent on as a picture. Files are checked
against the signature of the type they claim (``filetype`` knows most of WhatsApp's);
families whose members the library tells apart by details that vary between encoders are
checked by what they all share, so a real file is never refused. A type nobody can
recognise by its bytes (plain text) passes.
"""

from __future__ import annotations

from pathlib import Path

import filetype

HEAD = 8192  # enough for every signature checked here
# ISO base media files (MP4, M4A, 3GP) all start with an "ftyp" box; its brand varies.
_ISO_MEDIA = frozenset({"video/mp4", "audio/mp4", "video/3gpp"})
# Office Open XML documents are ZIP archives; the older Office formats are OLE2 files.
_OOXML = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
_OLE2 = frozenset(
    {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
)
_ZIP = b"PK\x03\x04"
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def agrees(path: Path, mime: str) -> bool:
    """``path``'s bytes may be a ``mime`` file (lower-case, without parameters)."""
    with path.open("rb") as handle:
        head = handle.read(HEAD)
    if mime in _ISO_MEDIA:
        return head[4:8] == b"ftyp"
    if mime in _OOXML:
        return head.startswith(_ZIP)
    if mime in _OLE2:
        return head.startswith(_OLE2_SIGNATURE)
    matcher = filetype.get_type(mime=mime)
    return matcher is None or bool(matcher.match(bytearray(head)))

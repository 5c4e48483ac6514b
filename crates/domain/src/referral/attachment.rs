//! Attachments: PDF, Word or image files up to 10 MB, type checked by
//! **content**, never by the file name or the browser's declared type.
//!
//! Recognised signatures:
//! - PDF: `%PDF-` within the first 1,024 bytes (as PDF readers allow);
//! - Word (.docx): a ZIP file (local header at offset 0) whose central directory
//!   lists `word/document.xml` and `[Content_Types].xml`. The central directory is
//!   read in memory with bounds checks; nothing is decompressed. Macro-enabled
//!   documents (`word/vbaProject.bin`) are refused;
//! - Word 97–2003 (.doc): an OLE compound file (`D0 CF 11 E0 A1 B1 1A E1`) that
//!   contains a `WordDocument` stream name (UTF-16), so Excel/Outlook OLE files
//!   are refused;
//! - PNG, JPEG, GIF images by their magic numbers.
//!
//! Everything else is refused, whatever it is called.

use std::fmt;

/// Largest file accepted: 10 MB (10 × 1024 × 1024 bytes).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// Most files one referral can carry.
pub const MAX_ATTACHMENTS: usize = 10;
/// Longest sanitised file name, in characters (extension included).
pub const MAX_FILE_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttachmentKind {
    Pdf,
    Docx,
    Doc,
    Png,
    Jpeg,
    Gif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error("Select a file")]
    NoFile,
    #[error("The selected file is empty")]
    Empty,
    #[error("The selected file must be smaller than 10 MB")]
    TooLarge,
    #[error("The selected file must be a PDF, Word document or image")]
    WrongType,
    #[error("The selected Word document contains macros. Save it as a .docx or PDF and try again")]
    ContainsMacros,
}

const PDF_MAGIC: &[u8] = b"%PDF-";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const PNG_MAGIC: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const ZIP_LOCAL_MAGIC: &[u8] = b"PK\x03\x04";

impl AttachmentKind {
    /// Every accepted kind.
    pub const ALL: &'static [AttachmentKind] = &[
        AttachmentKind::Pdf,
        AttachmentKind::Docx,
        AttachmentKind::Doc,
        AttachmentKind::Png,
        AttachmentKind::Jpeg,
        AttachmentKind::Gif,
    ];

    /// Decides the kind from the bytes. `declared_filename` is only used to tell
    /// "no file chosen" (no name and no bytes) from an empty file; it never
    /// decides the kind.
    pub fn sniff(bytes: &[u8], declared_filename: &str) -> Result<Self, AttachmentError> {
        if bytes.is_empty() {
            return Err(if declared_filename.trim().is_empty() {
                AttachmentError::NoFile
            } else {
                AttachmentError::Empty
            });
        }
        if bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(AttachmentError::TooLarge);
        }
        if find(&bytes[..bytes.len().min(1024)], PDF_MAGIC).is_some() {
            return Ok(AttachmentKind::Pdf);
        }
        if bytes.starts_with(PNG_MAGIC) {
            return Ok(AttachmentKind::Png);
        }
        if bytes.starts_with(JPEG_MAGIC) {
            return Ok(AttachmentKind::Jpeg);
        }
        if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            return Ok(AttachmentKind::Gif);
        }
        if bytes.starts_with(OLE_MAGIC) {
            let stream_name: Vec<u8> = "WordDocument"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect();
            return if find(bytes, &stream_name).is_some() {
                Ok(AttachmentKind::Doc)
            } else {
                Err(AttachmentError::WrongType)
            };
        }
        if bytes.starts_with(ZIP_LOCAL_MAGIC) {
            let names = zip_entry_names(bytes).ok_or(AttachmentError::WrongType)?;
            let has = |n: &str| names.iter().any(|e| e == n);
            if has("word/document.xml") && has("[Content_Types].xml") {
                if has("word/vbaProject.bin") {
                    return Err(AttachmentError::ContainsMacros);
                }
                return Ok(AttachmentKind::Docx);
            }
        }
        Err(AttachmentError::WrongType)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            AttachmentKind::Pdf => "application/pdf",
            AttachmentKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            AttachmentKind::Doc => "application/msword",
            AttachmentKind::Png => "image/png",
            AttachmentKind::Jpeg => "image/jpeg",
            AttachmentKind::Gif => "image/gif",
        }
    }

    /// The extension a file of this kind is saved with.
    pub fn extension(self) -> &'static str {
        match self {
            AttachmentKind::Pdf => "pdf",
            AttachmentKind::Docx => "docx",
            AttachmentKind::Doc => "doc",
            AttachmentKind::Png => "png",
            AttachmentKind::Jpeg => "jpg",
            AttachmentKind::Gif => "gif",
        }
    }

    fn accepts_extension(self, ext: &str) -> bool {
        let ext = ext.to_ascii_lowercase();
        match self {
            AttachmentKind::Jpeg => ext == "jpg" || ext == "jpeg",
            _ => ext == self.extension(),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AttachmentKind::Pdf => "PDF",
            AttachmentKind::Docx | AttachmentKind::Doc => "Word document",
            AttachmentKind::Png => "PNG image",
            AttachmentKind::Jpeg => "JPEG image",
            AttachmentKind::Gif => "GIF image",
        }
    }

    /// Stable code for storage ("pdf", "docx", …).
    pub fn code(self) -> &'static str {
        self.extension()
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.code() == code)
    }
}

impl fmt::Display for AttachmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// The entry names of a ZIP file's central directory, or `None` if it is not a
/// well-formed (non-ZIP64) archive.
fn zip_entry_names(b: &[u8]) -> Option<Vec<String>> {
    const EOCD_LEN: usize = 22;
    if b.len() < EOCD_LEN {
        return None;
    }
    let last = b.len() - EOCD_LEN;
    let first = last.saturating_sub(u16::MAX as usize);
    let eocd = (first..=last)
        .rev()
        .find(|&i| b[i..].starts_with(b"PK\x05\x06"))?;
    let entries = u16_at(b, eocd + 10)?;
    let cd_size = u32_at(b, eocd + 12)?;
    let cd_offset = u32_at(b, eocd + 16)?;
    let cd_end = cd_offset.checked_add(cd_size)?;
    if cd_end > eocd {
        return None;
    }
    let mut names = Vec::with_capacity(entries.min(1024));
    let mut at = cd_offset;
    for _ in 0..entries {
        if !b.get(at..)?.starts_with(b"PK\x01\x02") {
            return None;
        }
        let name_len = u16_at(b, at + 28)?;
        let extra_len = u16_at(b, at + 30)?;
        let comment_len = u16_at(b, at + 32)?;
        let name = b.get(at + 46..at + 46 + name_len)?;
        names.push(String::from_utf8_lossy(name).into_owned());
        at += 46 + name_len + extra_len + comment_len;
        if at > cd_end {
            return None;
        }
    }
    Some(names)
}

/// Makes a file name safe to show and to offer for download: only the last path
/// component, no control characters or characters Windows forbids
/// (`<>:"/\|?*`), white space collapsed, no leading dots, at most
/// [`MAX_FILE_NAME_CHARS`] characters, and ending with the extension of the
/// kind found by content (added if the name lacks it or has another one).
pub fn sanitise_file_name(declared: &str, kind: AttachmentKind) -> String {
    let last = declared.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || "<>:\"/\\|?*".contains(c) {
                '_'
            } else if c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = collapsed
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    let (stem, ext) = match trimmed.rsplit_once('.') {
        Some((stem, ext)) if kind.accepts_extension(ext) => (stem.to_owned(), ext.to_owned()),
        _ => (trimmed.to_owned(), kind.extension().to_owned()),
    };
    let stem = if stem.trim().is_empty() {
        "attachment".to_owned()
    } else {
        stem
    };
    let room = MAX_FILE_NAME_CHARS - ext.chars().count() - 1;
    let stem: String = stem.chars().take(room).collect();
    format!("{}.{ext}", stem.trim_end())
}

/// A file that passed the checks: what is stored beside the bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckedAttachment {
    pub file_name: String,
    #[serde(serialize_with = "kind_code")]
    pub kind: AttachmentKind,
    pub size_bytes: usize,
}

fn kind_code<S: serde::Serializer>(k: &AttachmentKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.code())
}

impl CheckedAttachment {
    pub fn check(declared_filename: &str, bytes: &[u8]) -> Result<Self, AttachmentError> {
        let kind = AttachmentKind::sniff(bytes, declared_filename)?;
        Ok(Self {
            file_name: sanitise_file_name(declared_filename, kind),
            kind,
            size_bytes: bytes.len(),
        })
    }
}

/// A size for people: "512 bytes", "12 KB", "3.4 MB".
pub fn format_size(bytes: usize) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} bytes")
    } else if b < KB * KB {
        format!("{:.0} KB", b / KB)
    } else {
        format!("{:.1} MB", b / (KB * KB))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a minimal, valid (stored, uncompressed) ZIP with the given entries.
    pub(crate) fn make_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in entries {
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
            out.extend_from_slice(&0u32.to_le_bytes()); // crc (not checked)
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);

            central.extend_from_slice(b"PK\x01\x02");
            central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&0u32.to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]); // extra, comment, disk, int attr, ext attr
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    pub(crate) fn docx() -> Vec<u8> {
        make_zip(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w:document/>"),
        ])
    }

    fn pdf() -> Vec<u8> {
        b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n".to_vec()
    }

    fn doc() -> Vec<u8> {
        let mut b = OLE_MAGIC.to_vec();
        b.resize(512, 0);
        b.extend("WordDocument".encode_utf16().flat_map(u16::to_le_bytes));
        b.resize(1024, 0);
        b
    }

    #[test]
    fn a_pdf_is_recognised() {
        assert_eq!(
            AttachmentKind::sniff(&pdf(), "chronology.pdf"),
            Ok(AttachmentKind::Pdf)
        );
    }

    #[test]
    fn a_pdf_with_a_short_preamble_is_recognised() {
        let mut b = b"\xEF\xBB\xBF\r\n".to_vec();
        b.extend(pdf());
        assert_eq!(AttachmentKind::sniff(&b, "a.pdf"), Ok(AttachmentKind::Pdf));
    }

    #[test]
    fn a_docx_is_recognised_by_its_zip_entries() {
        assert_eq!(
            AttachmentKind::sniff(&docx(), "assessment.docx"),
            Ok(AttachmentKind::Docx)
        );
    }

    #[test]
    fn a_legacy_word_document_is_recognised() {
        assert_eq!(
            AttachmentKind::sniff(&doc(), "old.doc"),
            Ok(AttachmentKind::Doc)
        );
    }

    #[test]
    fn images_are_recognised() {
        let mut png = PNG_MAGIC.to_vec();
        png.extend_from_slice(b"\0\0\0\rIHDR");
        assert_eq!(
            AttachmentKind::sniff(&png, "a.png"),
            Ok(AttachmentKind::Png)
        );
        assert_eq!(
            AttachmentKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], "a.jpg"),
            Ok(AttachmentKind::Jpeg)
        );
        assert_eq!(
            AttachmentKind::sniff(b"GIF89a\x01\x00", "a.gif"),
            Ok(AttachmentKind::Gif)
        );
    }

    #[test]
    fn an_exe_renamed_pdf_is_refused() {
        let mut exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
        exe.resize(4096, 0);
        let e = AttachmentKind::sniff(&exe, "chronology.pdf").unwrap_err();
        assert_eq!(e, AttachmentError::WrongType);
        assert_eq!(
            e.to_string(),
            "The selected file must be a PDF, Word document or image"
        );
    }

    #[test]
    fn a_plain_zip_renamed_docx_is_refused() {
        let zip = make_zip(&[("payload.exe", b"MZ")]);
        assert_eq!(
            AttachmentKind::sniff(&zip, "report.docx"),
            Err(AttachmentError::WrongType)
        );
    }

    #[test]
    fn a_truncated_zip_is_refused() {
        let mut zip = docx();
        zip.truncate(zip.len() - 10);
        assert_eq!(
            AttachmentKind::sniff(&zip, "report.docx"),
            Err(AttachmentError::WrongType)
        );
    }

    #[test]
    fn a_zip_with_a_lying_central_directory_is_refused_without_panicking() {
        let mut zip = docx();
        let n = zip.len();
        zip[n - 6..n - 2].copy_from_slice(&u32::MAX.to_le_bytes()); // cd offset
        assert_eq!(
            AttachmentKind::sniff(&zip, "x.docx"),
            Err(AttachmentError::WrongType)
        );
    }

    #[test]
    fn a_macro_enabled_word_document_is_refused() {
        let zip = make_zip(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w:document/>"),
            ("word/vbaProject.bin", b"\0"),
        ]);
        assert_eq!(
            AttachmentKind::sniff(&zip, "a.docx"),
            Err(AttachmentError::ContainsMacros)
        );
    }

    #[test]
    fn an_excel_ole_file_renamed_doc_is_refused() {
        let mut b = OLE_MAGIC.to_vec();
        b.extend("Workbook".encode_utf16().flat_map(u16::to_le_bytes));
        b.resize(1024, 0);
        assert_eq!(
            AttachmentKind::sniff(&b, "sheet.doc"),
            Err(AttachmentError::WrongType)
        );
    }

    #[test]
    fn html_and_text_are_refused() {
        assert_eq!(
            AttachmentKind::sniff(b"<html><script>alert(1)</script>", "a.pdf"),
            Err(AttachmentError::WrongType)
        );
        assert_eq!(
            AttachmentKind::sniff(b"just some notes", "notes.txt"),
            Err(AttachmentError::WrongType)
        );
    }

    #[test]
    fn an_empty_file_is_refused() {
        let e = AttachmentKind::sniff(&[], "empty.pdf").unwrap_err();
        assert_eq!(e, AttachmentError::Empty);
        assert_eq!(e.to_string(), "The selected file is empty");
    }

    #[test]
    fn no_file_chosen_asks_to_select_one() {
        assert_eq!(AttachmentKind::sniff(&[], ""), Err(AttachmentError::NoFile));
    }

    #[test]
    fn a_file_exactly_10_mb_is_accepted() {
        let mut b = pdf();
        b.resize(MAX_ATTACHMENT_BYTES, b' ');
        assert_eq!(
            AttachmentKind::sniff(&b, "big.pdf"),
            Ok(AttachmentKind::Pdf)
        );
    }

    #[test]
    fn an_oversize_file_is_refused() {
        let mut b = pdf();
        b.resize(MAX_ATTACHMENT_BYTES + 1, b' ');
        let e = AttachmentKind::sniff(&b, "big.pdf").unwrap_err();
        assert_eq!(e, AttachmentError::TooLarge);
        assert_eq!(
            e.to_string(),
            "The selected file must be smaller than 10 MB"
        );
    }

    #[test]
    fn file_names_lose_their_path_and_dangerous_characters() {
        assert_eq!(
            sanitise_file_name(
                "C:\\Users\\sam\\Chronology <final>.pdf",
                AttachmentKind::Pdf
            ),
            "Chronology _final_.pdf"
        );
        assert_eq!(
            sanitise_file_name("../../etc/passwd", AttachmentKind::Pdf),
            "passwd.pdf"
        );
        assert_eq!(
            sanitise_file_name("a\u{0}b\nc.pdf", AttachmentKind::Pdf),
            "a_b_c.pdf"
        );
    }

    #[test]
    fn the_extension_follows_the_content() {
        assert_eq!(
            sanitise_file_name("photo.pdf", AttachmentKind::Png),
            "photo.pdf.png"
        );
        assert_eq!(
            sanitise_file_name("photo.JPEG", AttachmentKind::Jpeg),
            "photo.JPEG"
        );
        assert_eq!(sanitise_file_name("scan", AttachmentKind::Pdf), "scan.pdf");
    }

    #[test]
    fn hidden_and_empty_names_get_a_default() {
        assert_eq!(
            sanitise_file_name("", AttachmentKind::Pdf),
            "attachment.pdf"
        );
        assert_eq!(
            sanitise_file_name("...", AttachmentKind::Pdf),
            "attachment.pdf"
        );
        assert_eq!(sanitise_file_name(".pdf", AttachmentKind::Pdf), "pdf.pdf");
    }

    #[test]
    fn long_names_are_shortened_keeping_the_extension() {
        let name = format!("{}.docx", "n".repeat(300));
        let s = sanitise_file_name(&name, AttachmentKind::Docx);
        assert_eq!(s.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(s.ends_with(".docx"));
    }

    #[test]
    fn a_checked_attachment_records_name_kind_and_size() {
        let a = CheckedAttachment::check("Assessment.docx", &docx()).unwrap();
        assert_eq!(a.file_name, "Assessment.docx");
        assert_eq!(a.kind, AttachmentKind::Docx);
        assert_eq!(a.size_bytes, docx().len());
    }

    #[test]
    fn sizes_are_readable() {
        assert_eq!(format_size(512), "512 bytes");
        assert_eq!(format_size(12 * 1024), "12 KB");
        assert_eq!(format_size(MAX_ATTACHMENT_BYTES), "10.0 MB");
    }
}

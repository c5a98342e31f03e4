//! The MIME part tree (RFC 2045 and RFC 2046) and its serialization.

use super::body::{EncodedBody, encode_binary, encode_text};
use super::header::HeaderField;
use super::parameter::encode_parameter;

/// Start of every boundary. Neither quoted-printable (where `=` is always followed by a hex
/// digit or a line break) nor base64 can produce it, and text containing it is always
/// encoded, so no body line can match a boundary.
pub(super) const BOUNDARY_PREFIX: &str = "=_";

/// One node of the MIME tree.
#[derive(Debug)]
pub(super) enum Part<'a> {
    /// A `text/*` part in UTF-8, with CRLF line endings.
    Text { subtype: &'static str, text: String },
    /// A `text/calendar` part carrying an iTIP object (RFC 6047, section 2.4), with CRLF line
    /// endings and the METHOD value as the `method` parameter.
    Calendar { method: &'a str, text: String },
    /// An attachment or inline file, always sent as base64.
    File {
        content_type: &'a str,
        disposition: Disposition<'a>,
        content_id: Option<&'a str>,
        data: &'a [u8],
    },
    /// A `multipart/*` part.
    Multipart {
        subtype: &'static str,
        parts: Vec<Part<'a>>,
    },
}

/// The `Content-Disposition` of a file part (RFC 2183).
#[derive(Debug, Clone, Copy)]
pub(super) enum Disposition<'a> {
    /// Shown inside the message, for images that the HTML references by `cid:`.
    Inline,
    /// Offered for download under its file name.
    Attachment { file_name: &'a str },
}

impl Part<'_> {
    /// Appends the part's header fields, the blank line and its body to `output`.
    ///
    /// The body gets no line break beyond its own. In a multipart, the CRLF before the next
    /// boundary belongs to that boundary (RFC 2046, section 5.1.1), so a body that ends with a
    /// line break keeps it and one that does not gets none.
    pub(super) fn write(&self, output: &mut Vec<u8>) {
        match self {
            Part::Text { subtype, text } => {
                let body = encode_text(text, BOUNDARY_PREFIX);
                let mut field = HeaderField::new("Content-Type");
                field.push(" ", &format!("text/{subtype};"));
                field.push(" ", "charset=utf-8");
                field.finish(output);
                write_body(&body, output);
            }
            Part::Calendar { method, text } => {
                let mut field = HeaderField::new("Content-Type");
                field.push(" ", "text/calendar;");
                field.push(" ", "charset=utf-8;");
                field.push(" ", &format!("method={method}"));
                field.finish(output);
                // Base64 rather than quoted-printable: relays may strip the trailing space
                // that iCalendar folding can leave at the end of a line, and base64 leaves no
                // line of the object exposed to such rewriting.
                write_body(&encode_binary(text.as_bytes()), output);
            }
            Part::File {
                content_type,
                disposition,
                content_id,
                data,
            } => {
                let mut field = HeaderField::new("Content-Type");
                field.push(" ", content_type);
                field.finish(output);
                write_disposition(*disposition, output);
                if let Some(content_id) = content_id {
                    let mut field = HeaderField::new("Content-ID");
                    field.push(" ", &format!("<{content_id}>"));
                    field.finish(output);
                }
                write_body(&encode_binary(data), output);
            }
            Part::Multipart { subtype, parts } => {
                let boundary = format!("{BOUNDARY_PREFIX}{:032x}", rand::random::<u128>());
                let mut field = HeaderField::new("Content-Type");
                field.push(" ", &format!("multipart/{subtype};"));
                let root = parts.first();
                if let (&"related", Some(Part::Text { subtype: root, .. })) = (subtype, root) {
                    // RFC 2387, section 3.1: the type of the root part, which comes first.
                    field.push(" ", &format!("type=\"text/{root}\";"));
                }
                field.push(" ", &format!("boundary=\"{boundary}\""));
                field.finish(output);
                output.extend_from_slice(b"\r\n");
                for part in parts {
                    output.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                    part.write(output);
                    output.extend_from_slice(b"\r\n");
                }
                output.extend_from_slice(format!("--{boundary}--").as_bytes());
            }
        }
    }
}

fn write_disposition(disposition: Disposition<'_>, output: &mut Vec<u8>) {
    let mut field = HeaderField::new("Content-Disposition");
    match disposition {
        Disposition::Inline => field.push(" ", "inline"),
        Disposition::Attachment { file_name } => {
            field.push(" ", "attachment;");
            let sections = encode_parameter("filename", file_name);
            let last = sections.len() - 1;
            for (index, section) in sections.iter().enumerate() {
                let separator = if index < last { ";" } else { "" };
                field.push(" ", &format!("{section}{separator}"));
            }
        }
    }
    field.finish(output);
}

/// Writes the transfer encoding, the blank line and the body.
fn write_body(body: &EncodedBody, output: &mut Vec<u8>) {
    let mut field = HeaderField::new("Content-Transfer-Encoding");
    field.push(" ", body.encoding);
    field.finish(output);
    output.extend_from_slice(b"\r\n");
    output.extend_from_slice(body.text.as_bytes());
}

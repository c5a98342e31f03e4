//! Files carried by a message: attachments and inline images.

use std::fmt;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::error::MessageError;

/// A file attached to a message, offered to the reader for download.
///
/// It is sent as base64 with `Content-Disposition: attachment` and its file name, which may
/// be any Unicode text: names that are not short printable ASCII are encoded as RFC 2231
/// requires. [`Message::to_bytes`](crate::Message::to_bytes) checks the file name and
/// content type.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub(super) file_name: String,
    pub(super) content_type: String,
    pub(super) data: Vec<u8>,
}

impl Attachment {
    /// Creates an attachment from bytes in memory.
    ///
    /// `content_type` is a MIME type such as `application/pdf`, without parameters.
    pub fn new(
        file_name: impl Into<String>,
        content_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Attachment {
        Attachment {
            file_name: file_name.into(),
            content_type: content_type.into(),
            data: data.into(),
        }
    }

    /// Reads the file at `path` into an attachment named after the path's last component.
    ///
    /// # Errors
    ///
    /// Returns [`MessageError::ReadFile`] when the file cannot be read.
    pub fn from_path(
        path: impl AsRef<Path>,
        content_type: impl Into<String>,
    ) -> Result<Attachment, MessageError> {
        let path = path.as_ref();
        let data = read_file(path)?;
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Attachment::new(file_name, content_type, data))
    }

    /// Returns the file name shown to the reader.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Returns the MIME type, such as `application/pdf`.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Returns the file's contents.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Writes the size in place of the contents, which may be large or confidential.
impl fmt::Debug for Attachment {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Attachment")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// An image shown inside the HTML body, which references it as `cid:<content id>`, for
/// example `<img src="cid:logo">` for the content id `logo`.
///
/// The HTML body and its inline images travel together in a `multipart/related` part (RFC
/// 2387). The image is sent as base64 with `Content-Disposition: inline` and the header
/// `Content-ID: <logo>`.
#[derive(Clone, PartialEq, Eq)]
pub struct InlineImage {
    pub(super) content_id: String,
    pub(super) content_type: String,
    pub(super) data: Vec<u8>,
}

impl InlineImage {
    /// Creates an inline image from bytes in memory.
    ///
    /// `content_id` is the part after `cid:` in the HTML: letters, digits, `.`, `@` and the
    /// other `atext` characters of RFC 5322. `content_type` is a MIME type such as
    /// `image/png`.
    pub fn new(
        content_id: impl Into<String>,
        content_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> InlineImage {
        InlineImage {
            content_id: content_id.into(),
            content_type: content_type.into(),
            data: data.into(),
        }
    }

    /// Reads the image at `path`.
    ///
    /// # Errors
    ///
    /// Returns [`MessageError::ReadFile`] when the file cannot be read.
    pub fn from_path(
        content_id: impl Into<String>,
        path: impl AsRef<Path>,
        content_type: impl Into<String>,
    ) -> Result<InlineImage, MessageError> {
        let data = read_file(path.as_ref())?;
        Ok(InlineImage::new(content_id, content_type, data))
    }

    /// Returns the content id, without angle brackets.
    pub fn content_id(&self) -> &str {
        &self.content_id
    }

    /// Returns the MIME type, such as `image/png`.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Returns the image's contents.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Writes the size in place of the contents.
impl fmt::Debug for InlineImage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("InlineImage")
            .field("content_id", &self.content_id)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, MessageError> {
    fs::read(path).map_err(|source| MessageError::ReadFile {
        path: path.to_owned(),
        source: Arc::new(source),
    })
}

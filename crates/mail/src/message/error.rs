//! The reasons a message cannot be built.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

/// The reason [`Message::to_bytes`](crate::Message::to_bytes) rejected a message, or an
/// attachment file could not be read.
///
/// Every variant about a field names it the way the builder does, such as `subject`,
/// `to[1] display name`, `attachments[0] file name` or `X-Campaign header value`.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum MessageError {
    /// A header field contains CR, LF or NUL, which could end the header line and inject
    /// another header.
    #[error("invalid message: {field} contains {character:?}, which is not allowed in a header")]
    HeaderControlCharacter {
        /// The field, such as `subject` or `to[1] display name`.
        field: String,
        /// The character found.
        character: char,
    },
    /// A body contains NUL, which no MIME transfer encoding for text allows.
    #[error("invalid message: {field} body contains NUL")]
    BodyNul {
        /// `text`, `html` or `calendar`.
        field: &'static str,
    },
    /// The calendar method is not an iCalendar `iana-token` (letters, digits and `-`).
    #[error(
        "invalid message: calendar method {method:?} is invalid ({reason}); \
         expected an iTIP method such as REQUEST, REPLY or CANCEL"
    )]
    InvalidCalendarMethod {
        /// The method as given.
        method: String,
        /// The rule that the value breaks.
        reason: &'static str,
    },
    /// The calendar object's METHOD property is missing or differs from the method given for
    /// the `text/calendar` part, which RFC 6047, section 2.4, requires to be equal.
    #[error(
        "invalid message: calendar method {method:?} does not match the object's METHOD \
         property ({found}); pass the METHOD value of the object"
    )]
    CalendarMethodMismatch {
        /// The method given for the part.
        method: String,
        /// The METHOD values found in the object, or `none`.
        found: String,
    },
    /// The message has neither a text nor an HTML body.
    #[error("invalid message: set a text or an HTML body")]
    NoBody,
    /// The message has no recipient in To, Cc or Bcc.
    #[error("invalid message: add at least one To, Cc or Bcc recipient")]
    NoRecipient,
    /// The message has inline images but no HTML body that could reference them.
    #[error("invalid message: inline images need an HTML body that references them by cid:")]
    InlineImagesWithoutHtml,
    /// The Message-ID domain is not a valid host name.
    #[error("invalid message: Message-ID domain {domain:?} is not a valid host name ({reason})")]
    InvalidMessageIdDomain {
        /// The domain as given.
        domain: String,
        /// The rule that the value breaks.
        reason: &'static str,
    },
    /// A custom header field name is empty, too long or contains a character other than
    /// printable ASCII without colon (RFC 5322, section 3.6.8).
    #[error("invalid message: header name {name:?} is invalid ({reason})")]
    InvalidHeaderName {
        /// The name as given.
        name: String,
        /// The rule that the value breaks.
        reason: &'static str,
    },
    /// A custom header would replace a header field that the message writes itself.
    #[error(
        "invalid message: header {name:?} is set by the message itself; \
         use the builder method for it instead of a custom header"
    )]
    ReservedHeader {
        /// The name as given.
        name: String,
    },
    /// A custom header value has a word too long for the 998-octet line limit of RFC 5322.
    #[error(
        "invalid message: {field} needs a line of {len} octets, more than the 998 allowed; \
         shorten its longest word"
    )]
    HeaderTooLong {
        /// The field, such as `X-Campaign header value`.
        field: String,
        /// The length of the longest line, CRLF excluded.
        len: usize,
    },
    /// A content type is not of the form `type/subtype` with RFC 2045 token characters.
    #[error(
        "invalid message: {field} {content_type:?} is invalid ({reason}); \
         expected type/subtype such as application/pdf"
    )]
    InvalidContentType {
        /// The field, such as `attachments[0] content type`.
        field: String,
        /// The content type as given.
        content_type: String,
        /// The rule that the value breaks.
        reason: &'static str,
    },
    /// A content id is empty, too long, or contains a character not allowed in a msg-id.
    #[error(
        "invalid message: {field} {content_id:?} is invalid ({reason}); \
         use letters, digits, '.', '@' and the characters !#$%&'*+-/=?^_`{{|}}~"
    )]
    InvalidContentId {
        /// The field, such as `inline_images[0] content id`.
        field: String,
        /// The content id as given.
        content_id: String,
        /// The rule that the value breaks.
        reason: &'static str,
    },
    /// Two inline images share a content id, so a `cid:` reference would be ambiguous.
    #[error("invalid message: content id {content_id:?} is used by more than one inline image")]
    DuplicateContentId {
        /// The content id used twice.
        content_id: String,
    },
    /// The date cannot be written in the RFC 5322 format, which needs a year from 0 to 9999.
    #[error("invalid message: date {date} cannot be written in a Date header")]
    InvalidDate {
        /// The date as given.
        date: jiff::Timestamp,
    },
    /// An attachment or inline image file could not be read.
    #[error("reading attachment file {path} failed: {source}")]
    ReadFile {
        /// The file's path.
        path: PathBuf,
        /// The error from the file system.
        #[source]
        source: Arc<io::Error>,
    },
}

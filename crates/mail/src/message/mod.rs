//! Building a message as MIME bytes.
//!
//! [`Message`] collects the sender, recipients, subject, bodies and files, and
//! [`Message::to_bytes`] writes them as an RFC 5322 message with only the MIME structure they
//! need: a single `text/plain` or `text/html` part, `multipart/alternative` for both and for
//! a `text/calendar` invitation beside them, `multipart/related` around the HTML and its
//! inline images, and `multipart/mixed` when there are attachments.
//!
//! The output is 7-bit ASCII with CRLF line endings, every line at most 998 octets and, where
//! the words allow it, 78. Non-ASCII header text becomes RFC 2047 encoded-words, file names
//! RFC 2231 parameters, and bodies `7bit`, quoted-printable or base64.
//!
//! The MIME writer is written here rather than taken from `mail-builder` (2.0.1). That
//! crate leaves text that looks like an encoded-word (`=?utf-8?q?...?=`) unencoded in
//! subjects, display names and file names, where readers such as Python's `email` package
//! decode it into other text than was sent. Its message builder also puts inline images into
//! `multipart/mixed` instead of `multipart/related`. The encoders here are small, and each is
//! tested against its RFC in its own file: `encoded_word` (RFC 2047), `parameter` (RFC 2231),
//! `body` (quoted-printable and base64), `header` (folding) and `mime` (the part tree).
//!
//! Every field that becomes part of a header line is checked by `validate` before anything
//! is written: CR, LF and NUL are rejected with an error naming the field, so no value can
//! inject a header.

mod attachment;
mod body;
mod encoded_word;
mod error;
mod header;
mod mime;
mod parameter;
mod validate;

use std::fmt;

use jiff::Timestamp;
use jiff::fmt::rfc2822;
use jiff::tz::TimeZone;

use crate::address::{Address, Mailbox};
use crate::lines::to_crlf;

pub use attachment::{Attachment, InlineImage};
pub use error::MessageError;

use header::{HeaderField, LongWords, MAX_LINE_OCTETS, push_mailbox_list, push_unstructured};
use mime::{Disposition, Part};

/// An e-mail message: sender, recipients, subject, a text or HTML body or both, inline
/// images and attachments.
///
/// Build it with [`Message::new`] and the methods that follow, then call
/// [`Message::to_bytes`] and pass the bytes, with [`Message::envelope_recipients`], to
/// [`Mailer::send`](crate::Mailer::send). Nothing is checked until `to_bytes`, which names
/// the first invalid field.
///
/// ```
/// use convene_mail::{Address, InlineImage, Mailbox, Message};
///
/// # fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let message = Message::new(
///     Mailbox::new("Convene", Address::parse("noreply@convene.example")?),
///     "Meeting moved",
/// )
/// .to(Mailbox::new("Ada Lovelace", Address::parse("ada@example.org")?))
/// .bcc(Address::parse("archive@convene.example")?)
/// .text("The meeting moved to 10:00.")
/// .html(r#"<img src="cid:logo"><p>The meeting moved to 10:00.</p>"#)
/// .inline_image(InlineImage::new("logo", "image/png", vec![0x89, b'P', b'N', b'G']));
/// let bytes = message.to_bytes()?;
/// assert_eq!(message.envelope_recipients().len(), 2);
/// # Ok(())
/// # }
/// # example().unwrap();
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    from: Mailbox,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Address>,
    reply_to: Vec<Mailbox>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    calendar: Option<(String, String)>,
    inline_images: Vec<InlineImage>,
    attachments: Vec<Attachment>,
    headers: Vec<(String, String)>,
    message_id_domain: Option<String>,
}

impl Message {
    /// Starts a message from `from`, written to the `From` header, with `subject`, any
    /// Unicode text without line breaks.
    pub fn new(from: Mailbox, subject: impl Into<String>) -> Message {
        Message {
            from,
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: Vec::new(),
            subject: subject.into(),
            text: None,
            html: None,
            calendar: None,
            inline_images: Vec::new(),
            attachments: Vec::new(),
            headers: Vec::new(),
            message_id_domain: None,
        }
    }

    /// Adds a recipient to the `To` header and the envelope.
    pub fn to(mut self, mailbox: impl Into<Mailbox>) -> Message {
        self.to.push(mailbox.into());
        self
    }

    /// Adds a recipient to the `Cc` header and the envelope.
    pub fn cc(mut self, mailbox: impl Into<Mailbox>) -> Message {
        self.cc.push(mailbox.into());
        self
    }

    /// Adds a recipient to the envelope only. No header of the message names it, so the
    /// other recipients cannot see it.
    pub fn bcc(mut self, address: Address) -> Message {
        self.bcc.push(address);
        self
    }

    /// Adds a mailbox to the `Reply-To` header, where replies go instead of `From`.
    pub fn reply_to(mut self, mailbox: impl Into<Mailbox>) -> Message {
        self.reply_to.push(mailbox.into());
        self
    }

    /// Sets the `text/plain` body. Line endings may be LF, CR or CRLF; they are sent as CRLF.
    pub fn text(mut self, text: impl Into<String>) -> Message {
        self.text = Some(text.into());
        self
    }

    /// Sets the `text/html` body. Line endings may be LF, CR or CRLF; they are sent as CRLF.
    pub fn html(mut self, html: impl Into<String>) -> Message {
        self.html = Some(html.into());
        self
    }

    /// Sets the iCalendar object of an invitation, reply or cancellation (iMIP, RFC 6047).
    ///
    /// It is written as the last part of the `multipart/alternative`, after the text and HTML
    /// bodies, as `text/calendar; charset=utf-8; method=<method>` in base64. `method` is the
    /// iTIP method, such as `REQUEST`, and must equal the object's METHOD property, which
    /// RFC 6047, section 2.4, requires; `to_bytes` checks this. The message still needs a
    /// text or HTML body for readers without calendar support.
    pub fn calendar(mut self, method: impl Into<String>, ics_text: impl Into<String>) -> Message {
        self.calendar = Some((method.into(), ics_text.into()));
        self
    }

    /// Adds an image that the HTML body shows through a `cid:` URL.
    pub fn inline_image(mut self, image: InlineImage) -> Message {
        self.inline_images.push(image);
        self
    }

    /// Adds an attachment.
    pub fn attachment(mut self, attachment: Attachment) -> Message {
        self.attachments.push(attachment);
        self
    }

    /// Adds a header field, such as `List-Unsubscribe` or `X-Convene-Event`.
    ///
    /// The name must be printable ASCII without colon and must not be a field that the
    /// message writes itself: `From`, `Sender`, `To`, `Cc`, `Bcc`, `Reply-To`, `Subject`,
    /// `Date`, `Message-ID`, `MIME-Version`, `Return-Path` or any `Content-*` field. The value
    /// is unstructured text: printable ASCII is written as it is, folded at its spaces, and
    /// anything else as RFC 2047 encoded-words.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Message {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the domain after the `@` of the generated `Message-ID`. Without it, the domain
    /// of the `From` address is used.
    pub fn message_id_domain(mut self, domain: impl Into<String>) -> Message {
        self.message_id_domain = Some(domain.into());
        self
    }

    /// Returns the addresses to pass to [`Mailer::send`](crate::Mailer::send): the `To`,
    /// `Cc` and Bcc recipients in that order, each address once.
    pub fn envelope_recipients(&self) -> Vec<Address> {
        let mut recipients: Vec<Address> = Vec::new();
        let addresses = self
            .to
            .iter()
            .chain(&self.cc)
            .map(|mailbox| &mailbox.address)
            .chain(&self.bcc);
        for address in addresses {
            if !recipients.contains(address) {
                recipients.push(address.clone());
            }
        }
        recipients
    }

    /// Builds the message as MIME bytes dated now. See [`Message::to_bytes_at`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, MessageError> {
        self.to_bytes_at(Timestamp::now())
    }

    /// Builds the message as MIME bytes with `date` in the `Date` header.
    ///
    /// The header has `From`, `To` (`undisclosed-recipients:;` when there are only Bcc
    /// recipients), `Cc` and `Reply-To` when set, `Subject`, `Date` (in UTC), `Message-ID`
    /// (128 random bits at the Message-ID domain), the custom headers and `MIME-Version`.
    /// Bcc recipients appear in no header. All lines end with CRLF, including the last.
    ///
    /// # Errors
    ///
    /// Returns an error naming the field when a header value, display name, file name or
    /// content id contains CR, LF or NUL, or when a custom header name, content type, content
    /// id or the Message-ID domain is invalid. A body containing NUL, a message without
    /// recipient or body, and inline images without an HTML body are rejected as well.
    pub fn to_bytes_at(&self, date: Timestamp) -> Result<Vec<u8>, MessageError> {
        validate::validate(self)?;

        let mut output = Vec::new();
        self.write_header(date, &mut output)?;
        self.body().write(&mut output);
        if !output.ends_with(b"\r\n") {
            output.extend_from_slice(b"\r\n");
        }
        Ok(output)
    }

    fn write_header(&self, date: Timestamp, output: &mut Vec<u8>) -> Result<(), MessageError> {
        let mut field = HeaderField::new("From");
        push_mailbox_list(&mut field, std::slice::from_ref(&self.from));
        field.finish(output);

        if !self.to.is_empty() {
            let mut field = HeaderField::new("To");
            push_mailbox_list(&mut field, &self.to);
            field.finish(output);
        } else if self.cc.is_empty() {
            // RFC 5322, section 3.6.3, suggests an empty group when all recipients are Bcc.
            let mut field = HeaderField::new("To");
            field.push(" ", "undisclosed-recipients:;");
            field.finish(output);
        }
        for (name, mailboxes) in [("Cc", &self.cc), ("Reply-To", &self.reply_to)] {
            if !mailboxes.is_empty() {
                let mut field = HeaderField::new(name);
                push_mailbox_list(&mut field, mailboxes);
                field.finish(output);
            }
        }

        let mut field = HeaderField::new("Subject");
        push_unstructured(&mut field, &self.subject, LongWords::Encode);
        field.finish(output);

        let date_text = rfc2822::to_string(&date.to_zoned_datetime(TimeZone::UTC))
            .map_err(|_| MessageError::InvalidDate { date })?;
        let mut field = HeaderField::new("Date");
        field.push(" ", &date_text);
        field.finish(output);

        let domain = self
            .message_id_domain
            .as_deref()
            .unwrap_or(self.from.address.domain());
        let mut field = HeaderField::new("Message-ID");
        field.push(" ", &format!("<{:032x}@{domain}>", rand::random::<u128>()));
        field.finish(output);

        for (name, value) in &self.headers {
            let mut field = HeaderField::new(name);
            push_unstructured(&mut field, value, LongWords::Keep);
            if field.max_line_len() > MAX_LINE_OCTETS {
                return Err(MessageError::HeaderTooLong {
                    field: format!("{name} header value"),
                    len: field.max_line_len(),
                });
            }
            field.finish(output);
        }

        output.extend_from_slice(b"MIME-Version: 1.0\r\n");
        Ok(())
    }

    /// Returns the MIME tree with only the multiparts that the content needs.
    ///
    /// The calendar part comes last in the `multipart/alternative`, which orders its parts
    /// from plainest to richest (RFC 2046), so calendar clients show the invitation and other
    /// readers the text or HTML.
    fn body(&self) -> Part<'_> {
        let html = self.html.as_deref().map(|html| {
            let html = Part::Text {
                subtype: "html",
                text: to_crlf(html),
            };
            if self.inline_images.is_empty() {
                return html;
            }
            let mut parts = vec![html];
            parts.extend(self.inline_images.iter().map(|image| Part::File {
                content_type: &image.content_type,
                disposition: Disposition::Inline,
                content_id: Some(&image.content_id),
                data: &image.data,
            }));
            Part::Multipart {
                subtype: "related",
                parts,
            }
        });
        let text = self.text.as_deref().map(|text| Part::Text {
            subtype: "plain",
            text: to_crlf(text),
        });

        let calendar = self.calendar.as_ref().map(|(method, text)| Part::Calendar {
            method,
            text: to_crlf(text),
        });

        let alternatives: Vec<Part<'_>> = [text, html, calendar].into_iter().flatten().collect();
        let content = match <[Part<'_>; 1]>::try_from(alternatives) {
            Ok([part]) => part,
            Err(parts) => {
                assert!(
                    !parts.is_empty(),
                    "validate rejects a message without a body"
                );
                Part::Multipart {
                    subtype: "alternative",
                    parts,
                }
            }
        };
        if self.attachments.is_empty() {
            return content;
        }

        let mut parts = vec![content];
        parts.extend(self.attachments.iter().map(|attachment| Part::File {
            content_type: &attachment.content_type,
            disposition: Disposition::Attachment {
                file_name: &attachment.file_name,
            },
            content_id: None,
            data: &attachment.data,
        }));
        Part::Multipart {
            subtype: "mixed",
            parts,
        }
    }
}

/// Writes body and file sizes in place of their contents, which must not reach logs.
impl fmt::Debug for Message {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Message")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("cc", &self.cc)
            .field("bcc", &self.bcc)
            .field("reply_to", &self.reply_to)
            .field("subject", &self.subject)
            .field("text_len", &self.text.as_ref().map(String::len))
            .field("html_len", &self.html.as_ref().map(String::len))
            .field(
                "calendar",
                &self
                    .calendar
                    .as_ref()
                    .map(|(method, text)| (method, text.len())),
            )
            .field("inline_images", &self.inline_images)
            .field("attachments", &self.attachments)
            .field("headers", &self.headers)
            .field("message_id_domain", &self.message_id_domain)
            .finish()
    }
}

#[cfg(test)]
mod tests;

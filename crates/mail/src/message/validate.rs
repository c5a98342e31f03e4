//! Checks on the parts of a message that become header fields, so that none can inject a
//! header or break the MIME structure.

use std::collections::HashSet;

use crate::address::{Mailbox, check_domain};

use super::Message;
use super::error::MessageError;

/// Header fields that the message writes itself and custom headers therefore may not set,
/// in lowercase. Every name starting with `content-` is reserved as well, because those
/// fields describe the MIME structure.
const RESERVED_HEADERS: [&str; 11] = [
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "return-path",
];

/// Maximum length of a custom header name, so that the name, its colon and a space fit in a 78-character
/// line.
const MAX_HEADER_NAME_LEN: usize = 76;

/// Maximum length of a content id, well within the 998-octet line limit.
const MAX_CONTENT_ID_LEN: usize = 250;

/// Maximum length of a type or subtype name (RFC 6838, section 4.2).
const MAX_TYPE_NAME_LEN: usize = 127;

/// Checks every field of `message`, returning the first problem found.
pub(super) fn validate(message: &Message) -> Result<(), MessageError> {
    if message.to.is_empty() && message.cc.is_empty() && message.bcc.is_empty() {
        return Err(MessageError::NoRecipient);
    }
    if message.text.is_none() && message.html.is_none() {
        return Err(MessageError::NoBody);
    }
    if message.html.is_none() && !message.inline_images.is_empty() {
        return Err(MessageError::InlineImagesWithoutHtml);
    }

    check_header_text("subject", &message.subject)?;
    check_display_names("from", std::slice::from_ref(&message.from))?;
    check_display_names("to", &message.to)?;
    check_display_names("cc", &message.cc)?;
    check_display_names("reply_to", &message.reply_to)?;

    for (name, value) in &message.headers {
        check_header_name(name)?;
        check_header_text(&format!("{name} header value"), value)?;
    }

    for (index, attachment) in message.attachments.iter().enumerate() {
        check_header_text(
            &format!("attachments[{index}] file name"),
            &attachment.file_name,
        )?;
        check_content_type(
            &format!("attachments[{index}] content type"),
            &attachment.content_type,
        )?;
    }
    let mut content_ids = HashSet::new();
    for (index, image) in message.inline_images.iter().enumerate() {
        check_content_id(
            &format!("inline_images[{index}] content id"),
            &image.content_id,
        )?;
        check_content_type(
            &format!("inline_images[{index}] content type"),
            &image.content_type,
        )?;
        if !content_ids.insert(image.content_id.as_str()) {
            return Err(MessageError::DuplicateContentId {
                content_id: image.content_id.clone(),
            });
        }
    }

    if message
        .text
        .as_deref()
        .is_some_and(|text| text.contains('\0'))
    {
        return Err(MessageError::BodyNul { field: "text" });
    }
    if message
        .html
        .as_deref()
        .is_some_and(|html| html.contains('\0'))
    {
        return Err(MessageError::BodyNul { field: "html" });
    }
    if let Some((method, text)) = &message.calendar {
        check_calendar(method, text)?;
    }
    if let Some(domain) = &message.message_id_domain {
        check_domain(domain).map_err(|reason| MessageError::InvalidMessageIdDomain {
            domain: domain.clone(),
            reason,
        })?;
    }
    Ok(())
}

/// Rejects CR, LF and NUL, the characters that could end a header line. Every other
/// character is encoded as the header syntax requires.
fn check_header_text(field: &str, text: &str) -> Result<(), MessageError> {
    match text.chars().find(|c| matches!(c, '\r' | '\n' | '\0')) {
        Some(character) => Err(MessageError::HeaderControlCharacter {
            field: field.to_owned(),
            character,
        }),
        None => Ok(()),
    }
}

fn check_display_names(field: &str, mailboxes: &[Mailbox]) -> Result<(), MessageError> {
    for (index, mailbox) in mailboxes.iter().enumerate() {
        if let Some(name) = &mailbox.name {
            let field = if field == "from" {
                "from display name".to_owned()
            } else {
                format!("{field}[{index}] display name")
            };
            check_header_text(&field, name)?;
        }
    }
    Ok(())
}

fn check_header_name(name: &str) -> Result<(), MessageError> {
    check_header_text("header name", name)?;
    let invalid = |reason| MessageError::InvalidHeaderName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("empty"));
    }
    if name.len() > MAX_HEADER_NAME_LEN {
        return Err(invalid("longer than 76 characters"));
    }
    // RFC 5322, section 3.6.8: printable ASCII except colon.
    if !name
        .bytes()
        .all(|byte| (b'!'..=b'~').contains(&byte) && byte != b':')
    {
        return Err(invalid(
            "contains a character other than printable ASCII without ':'",
        ));
    }

    let lowercase = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lowercase.as_str()) || lowercase.starts_with("content-") {
        return Err(MessageError::ReservedHeader {
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn check_content_type(field: &str, content_type: &str) -> Result<(), MessageError> {
    check_header_text(field, content_type)?;
    let invalid = |reason| MessageError::InvalidContentType {
        field: field.to_owned(),
        content_type: content_type.to_owned(),
        reason,
    };
    let Some((type_name, subtype)) = content_type.split_once('/') else {
        return Err(invalid("missing '/'"));
    };
    for name in [type_name, subtype] {
        if name.is_empty() {
            return Err(invalid("empty type or subtype"));
        }
        if name.len() > MAX_TYPE_NAME_LEN {
            return Err(invalid("type or subtype longer than 127 characters"));
        }
        if !name.bytes().all(is_token_byte) {
            return Err(invalid(
                "contains a space, control character or one of ()<>@,;:\\\"/[]?=",
            ));
        }
    }
    Ok(())
}

/// Returns whether `byte` may appear in an RFC 2045 token.
fn is_token_byte(byte: u8) -> bool {
    (b'!'..=b'~').contains(&byte) && !b"()<>@,;:\\\"/[]?=".contains(&byte)
}

/// Checks that `content_id` can go between the angle brackets of a `Content-ID` header and
/// after `cid:` in a URL (RFC 2392).
fn check_content_id(field: &str, content_id: &str) -> Result<(), MessageError> {
    check_header_text(field, content_id)?;
    let invalid = |reason| MessageError::InvalidContentId {
        field: field.to_owned(),
        content_id: content_id.to_owned(),
        reason,
    };
    if content_id.is_empty() {
        return Err(invalid("empty"));
    }
    if content_id.len() > MAX_CONTENT_ID_LEN {
        return Err(invalid("longer than 250 characters"));
    }
    let allowed =
        |byte: u8| byte.is_ascii_alphanumeric() || b".@!#$%&'*+-/=?^_`{|}~".contains(&byte);
    if !content_id.bytes().all(allowed) {
        return Err(invalid("contains a character not allowed in a content id"));
    }
    Ok(())
}

/// Checks that `method` is an `iana-token` (RFC 5545, section 3.1) and that every METHOD
/// property of the calendar object `text` has that value, ignoring case.
fn check_calendar(method: &str, text: &str) -> Result<(), MessageError> {
    let invalid = |reason| MessageError::InvalidCalendarMethod {
        method: method.to_owned(),
        reason,
    };
    if method.is_empty() {
        return Err(invalid("empty"));
    }
    if method.len() > MAX_TYPE_NAME_LEN {
        return Err(invalid("longer than 127 characters"));
    }
    if !method
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    {
        return Err(invalid(
            "contains a character other than letters, digits and '-'",
        ));
    }
    if text.contains('\0') {
        return Err(MessageError::BodyNul { field: "calendar" });
    }

    let found = calendar_methods(text);
    if found.is_empty()
        || found
            .iter()
            .any(|value| !value.eq_ignore_ascii_case(method))
    {
        let found = if found.is_empty() {
            "none".to_owned()
        } else {
            found.join(", ")
        };
        return Err(MessageError::CalendarMethodMismatch {
            method: method.to_owned(),
            found,
        });
    }
    Ok(())
}

/// Returns the value of every METHOD property in an iCalendar object, after unfolding its
/// lines (RFC 5545, section 3.1). Parameters of the property are skipped.
fn calendar_methods(text: &str) -> Vec<String> {
    let unfolded = text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    unfolded
        .lines()
        .filter_map(|line| {
            let (name_and_parameters, value) = line.split_once(':')?;
            let name = name_and_parameters.split(';').next()?;
            name.trim()
                .eq_ignore_ascii_case("METHOD")
                .then(|| value.trim().to_owned())
        })
        .collect()
}

//! `application/xml` and `text/xml` request bodies.
//!
//! The document is read into the same tree of objects, arrays, strings and
//! nulls that a JSON body gives, and [`crate::fields`] reads the command from
//! that tree. Both formats therefore accept the same fields, apply the same
//! checks and name a bad field by the same path.
//!
//! Mapping to the tree:
//! - The root element names the resource, and each field is a child
//!   element of the same name: `<user>` for a new or changed user, `<event>`
//!   for a new event, `<change>` for a change to an event, `<participant>`
//!   for a new participant, `<availability>` for a free-slot search and
//!   `<rsvp>` for an answer to an invitation.
//! - A list holds one child per item, named for the item:
//!   `<participants><user>ID</user></participants>`,
//!   `<reminders><reminder><before>PT15M</before></reminder></reminders>`,
//!   `<channels><channel>email</channel></channels>`,
//!   `<working_hours><period><days><day>monday</day></days><start>09:00</start>
//!   <end>17:00</end></period></working_hours>`, and
//!   `<recurrence><rrule>FREQ=WEEKLY</rrule><rdates><date>…</date></rdates>
//!   <exdates><date>…</date></exdates></recurrence>`. A recurrence may repeat
//!   `<rrule>`, which is the JSON list of rules.
//! - `null` is an empty element with `nil="true"`: `<location nil="true"/>`
//!   removes an event's location in a change. An absent element is an absent
//!   field, and an empty element without `nil` is an empty text, list or
//!   object.
//! - Text is taken as written, without trimming. Whitespace between elements
//!   is ignored.
//! - `count` is the only number: its text becomes a JSON number when it
//!   reads as one.
//!
//! Safety: a document type declaration (`<!DOCTYPE`) is rejected, so no DTD
//! is read, no external entity is fetched and no entity is defined. The only
//! references resolved are the five predefined entities (`&lt;` `&gt;`
//! `&amp;` `&apos;` `&quot;`) and character references. Elements may nest at
//! most [`MAX_DEPTH`] levels, and the tree is built with an explicit stack,
//! so deep nesting is rejected at the first element too deep and never
//! recurses. The body size is bounded by the HTTP layer.

use convene_domain::{
    AddParticipant, AnswerInvitation, CreateEvent, FindSlots, NewPushSubscription, NewUser,
    UpdateEvent, UpdateUser,
};
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;
use serde_json::{Map, Number, Value};

use crate::fields;
use crate::{InputError, RequestParser};

/// Parses XML request bodies.
#[derive(Debug, Clone, Copy, Default)]
pub struct XmlParser;

/// The deepest nesting of elements accepted, counting the root as one. The
/// deepest valid body, `<user><working_hours><period><days><day>`, has five
/// levels.
pub const MAX_DEPTH: usize = 16;

/// The list elements and the name of their items.
const LISTS: [(&str, &str); 7] = [
    ("participants", "user"),
    ("channels", "channel"),
    ("reminders", "reminder"),
    ("working_hours", "period"),
    ("days", "day"),
    ("rdates", "date"),
    ("exdates", "date"),
];

/// The elements that are objects even when they are empty.
const OBJECTS: [&str; 4] = ["reminder", "period", "recurrence", "keys"];

impl RequestParser for XmlParser {
    fn parse_new_user(&self, body: &[u8]) -> Result<NewUser, InputError> {
        fields::new_user(read_document(body, "user")?)
    }

    fn parse_create_event(&self, body: &[u8]) -> Result<CreateEvent, InputError> {
        fields::create_event(read_document(body, "event")?)
    }

    fn parse_add_participant(&self, body: &[u8]) -> Result<AddParticipant, InputError> {
        fields::add_participant(read_document(body, "participant")?)
    }

    fn parse_update_user(&self, body: &[u8]) -> Result<UpdateUser, InputError> {
        fields::update_user(read_document(body, "user")?)
    }

    fn parse_push_subscription(&self, body: &[u8]) -> Result<NewPushSubscription, InputError> {
        fields::push_subscription(read_document(body, "subscription")?)
    }

    fn parse_update_event(&self, body: &[u8]) -> Result<UpdateEvent, InputError> {
        fields::update_event(read_document(body, "change")?)
    }

    fn parse_find_slots(&self, body: &[u8]) -> Result<FindSlots, InputError> {
        fields::find_slots(read_document(body, "availability")?)
    }

    fn parse_answer(&self, body: &[u8]) -> Result<AnswerInvitation, InputError> {
        fields::answer(read_document(body, "rsvp")?)
    }
}

/// An element whose end tag has not been read yet.
struct Frame {
    name: String,
    /// The field path, such as `reminders/0/before`, which is empty for the root.
    path: String,
    nil: bool,
    text: String,
    /// The converted children, in document order.
    children: Vec<(String, Value)>,
}

/// Reads a document whose root element must be `<root>` into the fields of
/// that element.
fn read_document(body: &[u8], root: &str) -> Result<Map<String, Value>, InputError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|err| {
        InputError::malformed(format!(
            "the request body is not valid UTF-8 (at byte {}); send XML encoded as UTF-8",
            err.valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(InputError::malformed(format!(
            "the request body is empty; send an XML document with a <{root}> root element"
        )));
    }

    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut document: Option<Map<String, Value>> = None;
    loop {
        let event = reader.read_event().map_err(|err| {
            InputError::malformed(format!(
                "the request body is not well-formed XML at byte {}: {err}",
                reader.error_position()
            ))
        })?;
        match event {
            Event::Start(start) => {
                stack.push(open(&start, &stack, root, document.is_some())?);
            }
            Event::Empty(start) => {
                let frame = open(&start, &stack, root, document.is_some())?;
                close(frame, &mut stack, &mut document)?;
            }
            Event::End(_) => {
                // The reader checks that end tags match, so there is an open frame.
                let frame = stack
                    .pop()
                    .ok_or_else(|| InputError::malformed("an end tag has no start tag"))?;
                close(frame, &mut stack, &mut document)?;
            }
            Event::Text(content) => push_text(&mut stack, &content.xml10_content())?,
            Event::CData(content) => push_text(&mut stack, &content.xml10_content())?,
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference)?;
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => {
                return Err(InputError::malformed(
                    "the request body has a document type declaration (<!DOCTYPE ...>), which is not accepted because it can define entities; remove it",
                ));
            }
            Event::Decl(declaration) => check_declaration(&declaration)?,
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }

    if !stack.is_empty() {
        return Err(InputError::malformed(
            "the request body ends before the root element is closed",
        ));
    }
    document.ok_or_else(|| {
        InputError::malformed(format!(
            "the request body has no root element; send an XML document with a <{root}> root element"
        ))
    })
}

/// Checks a start tag against its place in the document and returns its frame.
fn open(
    start: &BytesStart<'_>,
    stack: &[Frame],
    root: &str,
    root_closed: bool,
) -> Result<Frame, InputError> {
    let name = element_name(start.name());
    if root_closed {
        return Err(InputError::malformed(format!(
            "the request body has an element <{name}> after the root element; send one <{root}> element"
        )));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(InputError::malformed(format!(
            "elements are nested deeper than {MAX_DEPTH} levels"
        )));
    }

    let path = match stack.last() {
        None => {
            if name != root {
                return Err(InputError::malformed(format!(
                    "the root element must be <{root}>, not <{name}>"
                )));
            }
            String::new()
        }
        Some(parent) => child_path(parent, &name)?,
    };
    let nil = read_nil(start, &path)?;
    if nil && stack.is_empty() {
        return Err(InputError::malformed(format!(
            "the root element <{root}> cannot be nil"
        )));
    }
    Ok(Frame {
        name,
        path,
        nil,
        text: String::new(),
        children: Vec::new(),
    })
}

/// Returns an element or attribute name as written, prefix included.
fn element_name(name: quick_xml::name::QName<'_>) -> String {
    let name: &str = name.as_ref();
    name.to_owned()
}

/// Returns the field path of a child element: its index in a list, or its
/// name in an object.
fn child_path(parent: &Frame, name: &str) -> Result<String, InputError> {
    let prefix = if parent.path.is_empty() {
        String::new()
    } else {
        format!("{}/", parent.path)
    };
    match list_item(&parent.name) {
        Some(item) => {
            let path = format!("{prefix}{}", parent.children.len());
            if name != item {
                return Err(InputError::invalid(
                    path,
                    format!(
                        "expected a <{item}> element, found <{name}>; a <{}> list holds one <{item}> per item",
                        parent.name
                    ),
                ));
            }
            Ok(path)
        }
        _ => Ok(format!("{prefix}{name}")),
    }
}

/// Returns the item name when `name` is a list element.
fn list_item(name: &str) -> Option<&'static str> {
    LISTS
        .iter()
        .find(|(list, _)| *list == name)
        .map(|(_, item)| *item)
}

/// Reads the `nil` attribute. Namespace declarations (`xmlns`) are ignored,
/// and any other attribute is rejected.
fn read_nil(start: &BytesStart<'_>, path: &str) -> Result<bool, InputError> {
    let place = if path.is_empty() {
        "the root element".to_owned()
    } else {
        path.to_owned()
    };
    let mut nil = false;
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|err| {
            InputError::malformed(format!("{place}: an attribute is not well-formed: {err}"))
        })?;
        let key = element_name(attribute.key);
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        if key != "nil" {
            return Err(attribute_error(
                path,
                format!("unknown attribute {key:?}; the only attribute is nil=\"true\""),
            ));
        }
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| attribute_error(path, format!("the nil attribute is invalid: {err}")))?;
        nil = match value.as_ref() {
            "true" => true,
            "false" => false,
            other => {
                return Err(attribute_error(
                    path,
                    format!("nil={other:?} is invalid; use nil=\"true\" or leave it out"),
                ));
            }
        };
    }
    Ok(nil)
}

fn attribute_error(path: &str, message: String) -> InputError {
    if path.is_empty() {
        InputError::malformed(format!("the root element: {message}"))
    } else {
        InputError::invalid(path, message)
    }
}

/// Converts a finished element and attaches it to its parent, or stores it
/// as the document when it is the root.
fn close(
    frame: Frame,
    stack: &mut [Frame],
    document: &mut Option<Map<String, Value>>,
) -> Result<(), InputError> {
    let Some(parent) = stack.last_mut() else {
        *document = Some(into_object(frame)?);
        return Ok(());
    };
    let name = frame.name.clone();
    let value = into_value(frame)?;
    parent.children.push((name, value));
    Ok(())
}

/// Converts an element other than the root into a tree value.
fn into_value(frame: Frame) -> Result<Value, InputError> {
    let has_text = !frame.text.trim().is_empty();
    if frame.nil {
        if has_text || !frame.children.is_empty() {
            return Err(InputError::invalid(
                frame.path,
                "an element with nil=\"true\" must be empty; remove its content or the attribute",
            ));
        }
        return Ok(Value::Null);
    }

    if let Some(item) = list_item(&frame.name) {
        if has_text {
            return Err(InputError::invalid(
                frame.path,
                format!("expected <{item}> elements, found text"),
            ));
        }
        let items = frame.children.into_iter().map(|(_, value)| value).collect();
        return Ok(Value::Array(items));
    }
    if !frame.children.is_empty() || OBJECTS.contains(&frame.name.as_str()) {
        return into_object(frame).map(Value::Object);
    }
    if frame.name == "count" {
        return Ok(number(&frame.text).unwrap_or(Value::String(frame.text)));
    }
    Ok(Value::String(frame.text))
}

/// Converts an element with child elements into an object. A repeated
/// `<rrule>` becomes a list of rules; any other repeated field is rejected.
fn into_object(frame: Frame) -> Result<Map<String, Value>, InputError> {
    if !frame.text.trim().is_empty() {
        let place = if frame.path.is_empty() {
            format!("the root element <{}>", frame.name)
        } else {
            frame.path.clone()
        };
        return Err(InputError::malformed(format!(
            "{place} mixes text with child elements; put the text in a field element"
        )));
    }
    let mut object = Map::new();
    for (name, value) in frame.children {
        let field = if frame.path.is_empty() {
            name.clone()
        } else {
            format!("{}/{name}", frame.path)
        };
        match object.get_mut(&name) {
            None => {
                object.insert(name, value);
            }
            Some(Value::Array(rules)) if name == "rrule" => rules.push(value),
            Some(first) if name == "rrule" => {
                let first = first.take();
                object.insert(name, Value::Array(vec![first, value]));
            }
            Some(_) => {
                return Err(InputError::invalid(
                    field,
                    "appears more than once; give each field once",
                ));
            }
        }
    }
    Ok(object)
}

/// Reads `count` as a number, so that the shared checks see the same value
/// as in JSON.
fn number(text: &str) -> Option<Value> {
    if let Ok(whole) = text.parse::<u64>() {
        return Some(Value::Number(whole.into()));
    }
    if let Ok(whole) = text.parse::<i64>() {
        return Some(Value::Number(whole.into()));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

fn push_text(stack: &mut [Frame], text: &str) -> Result<(), InputError> {
    match stack.last_mut() {
        Some(frame) => {
            frame.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(InputError::malformed(
            "the request body has text outside the root element",
        )),
    }
}

/// Resolves a character reference or one of the five predefined entities.
/// Every other entity is rejected, because a document cannot declare any.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<String, InputError> {
    let name: &str = reference;
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(character)) => Ok(character.to_string()),
            _ => Err(InputError::malformed(format!(
                "&{name}; is not a valid character reference"
            ))),
        };
    }
    resolve_predefined_entity(name)
        .map(str::to_owned)
        .ok_or_else(|| {
            InputError::malformed(format!(
                "the entity &{name}; is not defined; only &lt; &gt; &amp; &apos; &quot; and character references are accepted"
            ))
        })
}

/// Rejects an XML declaration that names an encoding other than UTF-8, the
/// only encoding read.
fn check_declaration(declaration: &quick_xml::events::BytesDecl<'_>) -> Result<(), InputError> {
    if let Some(encoding) = declaration.encoding() {
        let encoding = encoding.map_err(|err| {
            InputError::malformed(format!("the XML declaration is not well-formed: {err}"))
        })?;
        if !encoding.eq_ignore_ascii_case("utf-8") {
            return Err(InputError::malformed(format!(
                "the XML declaration names the encoding {encoding:?}; send the body as UTF-8"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

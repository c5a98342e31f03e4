//! Request parsing: turns a request body into a Scheduler command.
//!
//! This crate hides the input formats. Each format is one [`RequestParser`]
//! implementation, chosen by media type through [`parser_for`]; the
//! Scheduler only ever sees the commands of `convene_domain::command`, so a
//! new format is one new module here and no change anywhere else.
//!
//! Every parser reports problems as an [`InputError`] that names the field
//! (as a JSON-pointer-like path such as `reminders/0/before`) and says what
//! a valid value looks like.
//!
//! Layout:
//! - [`parser`]: the [`RequestParser`] trait and the media-type lookup.
//! - [`json`] parses `application/json`.
//! - [`xml`] parses `application/xml` and `text/xml` into the same tree as
//!   JSON; its module documentation gives the element names.
//! - [`ical`] parses `text/calendar`, for new events only.
//! - [`error`] defines [`InputError`].

pub mod error;
mod fields;
pub mod ical;
pub mod json;
pub mod parser;
pub mod xml;

pub use error::{InputError, InputErrorKind};
pub use ical::IcalParser;
pub use json::JsonParser;
pub use parser::{RequestParser, parser_for};
pub use xml::XmlParser;

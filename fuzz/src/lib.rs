//! Checks shared by the fuzz targets in `fuzz_targets/`.

use convene_input::{InputError, RequestParser};

/// Feeds `body` to every method of `parser` and checks that each rejection carries a
/// message, which the HTTP layer returns to the client.
pub fn parse_with_every_method(parser: &dyn RequestParser, body: &[u8]) {
    check_error(parser.parse_new_user(body).err());
    check_error(parser.parse_create_event(body).err());
    check_error(parser.parse_add_participant(body).err());
    check_error(parser.parse_update_user(body).err());
    check_error(parser.parse_update_event(body).err());
    check_error(parser.parse_find_slots(body).err());
    check_error(parser.parse_answer(body).err());
}

fn check_error(error: Option<InputError>) {
    if let Some(error) = error {
        assert!(
            !error.message.is_empty(),
            "an error without a message: {error:?}"
        );
    }
}

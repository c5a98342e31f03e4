//! Feeds `application/json` request bodies to every method of the JSON parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let parser = convene_input::parser_for("application/json").expect("a JSON parser");
    convene_fuzz::parse_with_every_method(parser, body);
});

//! Feeds bytes from an SMTP server to the reply parser of `convene-mail`, split into lines
//! as the client reads them.
//!
//! Beyond the absence of panics, it checks what `Reply` documents: every reply has a code
//! from 200 to 559, at least one and at most 100 lines, and text without control
//! characters other than tab.
#![no_main]

use convene_mail::fuzzing::parse_replies;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let (replies, _error) = parse_replies(input);
    for (code, lines) in replies {
        assert!((200..=559).contains(&code), "reply code {code}");
        assert!(
            !lines.is_empty() && lines.len() <= 100,
            "{} lines",
            lines.len()
        );
        for line in &lines {
            assert!(
                !line.chars().any(|c| c.is_control() && c != '\t'),
                "a control character in {line:?}"
            );
        }
    }
});

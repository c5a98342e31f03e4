//! Reads received messages back with Python's `email` package, an
//! independent MIME parser.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

const PARSER: &str = r#"
import email, email.policy, json, sys
message = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
parts = {}
for part in message.walk():
    if part.get_content_maintype() == "text":
        parts[part.get_content_type()] = part.get_content()
print(json.dumps({
    "headers": {name.lower(): str(value) for name, value in message.items()},
    "content_type": message.get_content_type(),
    "text": parts.get("text/plain"),
    "html": parts.get("text/html"),
    "defects": [str(defect) for defect in message.defects],
}))
"#;

/// Parses one message and returns its decoded headers (lowercase names),
/// content type, text and HTML parts and any defects Python found.
pub fn parse(data: &str) -> Value {
    let mut child = Command::new("python3")
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(data.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "parsing the message failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

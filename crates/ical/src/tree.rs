//! The component tree: BEGIN/END nesting of content lines, with the limits on size and
//! component count.

use crate::error::ImportError;
use crate::lines::{ContentLine, InvalidLine, parse_line, quote, unfold};

/// Limits that `parse` enforces before it builds anything large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The maximum input size in bytes.
    pub max_input_bytes: usize,
    /// The maximum number of components (BEGIN lines) in one input.
    pub max_components: usize,
    /// The maximum nesting depth of components.
    pub max_depth: usize,
}

impl Default for Limits {
    /// 10 MiB, 50,000 components and a depth of 16. A calendar of several thousand events
    /// with their VTIMEZONEs and VALARMs stays well inside the first two, and RFC 5545's
    /// components nest at most three deep.
    fn default() -> Limits {
        Limits {
            max_input_bytes: 10 * 1024 * 1024,
            max_components: 50_000,
            max_depth: 16,
        }
    }
}

/// One component: its name, its properties and the components nested in it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Component {
    /// The component name in upper case, such as `VEVENT`.
    pub name: String,
    /// The line of its BEGIN.
    pub line: usize,
    pub properties: Vec<ContentLine>,
    pub children: Vec<Component>,
    /// Lines inside the component (not inside a child) that could not be read, and a missing
    /// or mismatched END.
    pub problems: Vec<InvalidLine>,
}

impl Component {
    /// Returns the first property named `name` (upper case).
    pub fn property(&self, name: &str) -> Option<&ContentLine> {
        self.properties
            .iter()
            .find(|property| property.name == name)
    }

    /// Returns every property named `name` (upper case).
    pub fn properties<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ContentLine> + 'a {
        self.properties
            .iter()
            .filter(move |property| property.name == name)
    }
}

/// Reads `input` into its top-level components.
///
/// Lines outside any component are ignored. Top-level VEVENTs without a VCALENDAR are put
/// into one. An END that closes an outer component also
/// closes the components still open inside it, and each of those records the missing END as
/// a problem, as does every component still open at the end of the input.
pub(crate) fn read_tree(input: &[u8], limits: &Limits) -> Result<Vec<Component>, ImportError> {
    if input.len() > limits.max_input_bytes {
        return Err(ImportError::TooLarge {
            size: input.len(),
            max: limits.max_input_bytes,
        });
    }

    let mut roots: Vec<Component> = Vec::new();
    let mut stack: Vec<Component> = Vec::new();
    let mut components = 0usize;
    let mut first_line: Option<(usize, String)> = None;

    for (number, text) in unfold(input) {
        if first_line.is_none() {
            first_line = Some((number, text.clone()));
        }
        let line = match parse_line(number, &text) {
            Ok(line) => line,
            Err(invalid) => {
                if let Some(open) = stack.last_mut() {
                    open.problems.push(invalid);
                }
                continue;
            }
        };

        match line.name.as_str() {
            "BEGIN" => {
                components += 1;
                if components > limits.max_components {
                    return Err(ImportError::TooManyComponents {
                        line: number,
                        max: limits.max_components,
                    });
                }
                if stack.len() >= limits.max_depth {
                    return Err(ImportError::TooDeep {
                        line: number,
                        max: limits.max_depth,
                    });
                }
                stack.push(Component {
                    name: line.value.trim().to_ascii_uppercase(),
                    line: number,
                    ..Component::default()
                });
            }
            "END" => {
                let name = line.value.trim().to_ascii_uppercase();
                let Some(depth) = stack.iter().rposition(|open| open.name == name) else {
                    if let Some(open) = stack.last_mut() {
                        open.problems.push(InvalidLine {
                            line: number,
                            reason: format!("END:{name} without a matching BEGIN:{name}"),
                        });
                    }
                    continue;
                };
                while stack.len() > depth + 1 {
                    let mut unclosed = stack.pop().expect("the stack is deeper than depth");
                    unclosed.problems.push(InvalidLine {
                        line: number,
                        reason: format!(
                            "BEGIN:{} on line {} has no END before END:{name}",
                            unclosed.name, unclosed.line
                        ),
                    });
                    attach(&mut stack, &mut roots, unclosed);
                }
                let closed = stack.pop().expect("depth is within the stack");
                attach(&mut stack, &mut roots, closed);
            }
            _ => {
                if let Some(open) = stack.last_mut() {
                    open.properties.push(line);
                }
            }
        }
    }

    while let Some(mut unclosed) = stack.pop() {
        unclosed.problems.push(InvalidLine {
            line: unclosed.line,
            reason: format!("BEGIN:{} has no END:{}", unclosed.name, unclosed.name),
        });
        attach(&mut stack, &mut roots, unclosed);
    }

    // CalDAV servers and test suites exchange bare VEVENTs; they are read as one calendar.
    let has_calendar = roots.iter().any(|root| root.name == "VCALENDAR");
    if !has_calendar && roots.iter().any(|root| root.name == "VEVENT") {
        let line = roots[0].line;
        let children = std::mem::take(&mut roots);
        roots.push(Component {
            name: "VCALENDAR".to_string(),
            line,
            children,
            ..Component::default()
        });
    }
    if !roots.iter().any(|root| root.name == "VCALENDAR") {
        return Err(match first_line {
            None => ImportError::Empty,
            Some((line, text)) => ImportError::NotICalendar {
                line,
                found: quote(&text),
            },
        });
    }
    Ok(roots)
}

fn attach(stack: &mut [Component], roots: &mut Vec<Component>, component: Component) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(component),
        None => roots.push(component),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Component>, ImportError> {
        read_tree(text.as_bytes(), &Limits::default())
    }

    #[test]
    fn tree_nests_components() {
        let roots = read("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\nBEGIN:VALARM\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n").unwrap();
        assert_eq!(roots.len(), 1);
        let event = &roots[0].children[0];
        assert_eq!(event.name, "VEVENT");
        assert_eq!(event.line, 2);
        assert_eq!(event.property("UID").unwrap().value, "1");
        assert_eq!(event.children[0].name, "VALARM");
    }

    #[test]
    fn tree_records_missing_end() {
        let roots = read("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\nEND:VCALENDAR\n").unwrap();
        let event = &roots[0].children[0];
        assert!(
            event.problems[0].reason.contains("has no END"),
            "{:?}",
            event.problems
        );
    }

    #[test]
    fn tree_wraps_bare_events_in_calendar() {
        let roots =
            read("  BEGIN:VTIMEZONE\nEND:VTIMEZONE\nBEGIN:VEVENT\nUID:1\nEND:VEVENT\n").unwrap();
        assert_eq!(roots.len(), 1);
        assert_eq!(roots[0].name, "VCALENDAR");
        assert_eq!(roots[0].children[0].name, "VTIMEZONE");
        assert_eq!(roots[0].children[1].name, "VEVENT");
    }

    #[test]
    fn tree_rejects_text_that_is_not_icalendar() {
        let error = read("hello\nworld\n").unwrap_err();
        assert!(
            matches!(error, ImportError::NotICalendar { line: 1, .. }),
            "{error}"
        );
    }

    #[test]
    fn tree_rejects_too_many_components() {
        let limits = Limits {
            max_components: 2,
            ..Limits::default()
        };
        let text =
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VEVENT\nBEGIN:VEVENT\nEND:VEVENT\nEND:VCALENDAR\n";
        let error = read_tree(text.as_bytes(), &limits).unwrap_err();
        assert!(
            matches!(error, ImportError::TooManyComponents { line: 4, max: 2 }),
            "{error}"
        );
    }

    #[test]
    fn tree_rejects_too_large_input() {
        let limits = Limits {
            max_input_bytes: 10,
            ..Limits::default()
        };
        let error = read_tree(b"BEGIN:VCALENDAR\nEND:VCALENDAR\n", &limits).unwrap_err();
        assert!(
            matches!(error, ImportError::TooLarge { size: 30, max: 10 }),
            "{error}"
        );
    }
}

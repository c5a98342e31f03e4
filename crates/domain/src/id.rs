//! Opaque identifiers.
//!
//! Identifiers are UUIDv7 values written in their hyphenated text form, so
//! they sort by creation time and cannot be guessed from a neighbour. Callers
//! treat them as opaque strings.

use std::fmt;
use std::str::FromStr;

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// Creates a new, unique identifier.
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, InvalidId> {
                uuid::Uuid::parse_str(s).map($name).map_err(|_| InvalidId)
            }
        }
    };
}

identifier!(
    /// Identifies a user.
    UserId
);
identifier!(
    /// Identifies an event.
    EventId
);
identifier!(
    /// Identifies one planned reminder delivery to one recipient.
    DeliveryId
);
identifier!(
    /// Identifies one message in the mail queue.
    MessageId
);
identifier!(
    /// Identifies one calendar feed URL of a user.
    FeedId
);
identifier!(
    /// Identifies one API token of a user.
    TokenId
);
identifier!(
    /// Identifies one Web Push subscription of a user.
    PushSubscriptionId
);

/// A string that is not a Convene identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid identifier (expected a UUID such as 0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e6f)")]
pub struct InvalidId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_through_text() {
        let id = EventId::generate();
        let parsed: EventId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
    }

    #[test]
    fn id_rejects_non_uuid_text() {
        assert_eq!("42".parse::<UserId>(), Err(InvalidId));
    }

    #[test]
    fn ids_sort_by_creation() {
        let first = UserId::generate();
        let second = UserId::generate();
        assert!(first < second);
    }
}

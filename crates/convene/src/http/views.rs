//! JSON views of domain values.
//!
//! Instants are written as RFC 3339. An event's own times use the offset of
//! the event's time zone; busy intervals use UTC, because they may come
//! from events in zones that are none of the reader's business.
//!
//! An RFC 3339 offset has no seconds, so an event time whose zone offset is
//! not a whole number of minutes is written in UTC as well. Such offsets
//! come from historical local mean time, for example Africa/Monrovia's
//! -00:44:30 in 1971.
//!
//! Each view is a struct whose `ToSchema` derive gives its schema in the
//! OpenAPI document, so the document describes the very types that are
//! serialized. Fields are declared in alphabetical order, the order in which
//! these documents have always been written, and an `Option` field is written
//! as `null` when empty unless a `skip_serializing_if` attribute leaves it out.

use convene_domain::working_hours::{clock, weekday_name};
use convene_domain::{
    Answer, ApiToken, Conflict, Delivery, DeliveryAttempt, Event, Interval, MailMessage,
    MailRecipient, PushSubscription, ReminderOffset, User, UserId, WorkingHours,
};
use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use serde::Serialize;
use utoipa::ToSchema;

use super::schema;

/// A user.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    /// The channels every reminder to this user goes by.
    #[schema(schema_with = schema::channels)]
    channels: Vec<&'static str>,
    #[schema(format = Email)]
    email: String,
    #[schema(format = Uuid)]
    id: String,
    name: String,
    /// The telephone number for SMS reminders, shown only to the user and the
    /// administrator.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schema::phone)]
    pub phone: Option<String>,
    /// The reminders of events that set none of their own.
    reminders: Vec<ReminderView>,
    /// The IANA time zone the user reads times in, or `null` when none is set.
    #[schema(examples("Europe/Berlin"))]
    time_zone: Option<String>,
    /// The user's first API token, only in the response that creates the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub token: Option<String>,
    /// The periods of the week in which the user can be booked, one entry per run of days
    /// with the same hours. An empty list means never.
    working_hours: Vec<WorkingPeriodView>,
}

/// An API token of a user. Its secret appears only in the response that issues it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiToken)]
pub struct TokenView {
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = Uuid)]
    id: String,
    /// The secret to send as `Authorization: Bearer <token>`, only when the token is
    /// issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub token: Option<String>,
    #[schema(format = Uuid)]
    user: String,
}

pub fn token_view(token: &ApiToken) -> TokenView {
    TokenView {
        created_at: token.created_at.to_string(),
        id: token.id.to_string(),
        token: None,
        user: token.user.to_string(),
    }
}

/// A calendar feed of a user, by id; its URL is shown only when it is created.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FeedId)]
pub struct FeedIdView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub user: String,
}

/// A browser registered for push reminders. Its keys are not shown again.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PushSubscription)]
pub struct PushSubscriptionView {
    #[schema(format = DateTime)]
    created_at: String,
    endpoint: String,
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
    user: String,
}

pub fn push_subscription_view(subscription: &PushSubscription) -> PushSubscriptionView {
    PushSubscriptionView {
        created_at: subscription.created_at.to_string(),
        endpoint: subscription.endpoint.clone(),
        id: subscription.id.to_string(),
        user: subscription.user.to_string(),
    }
}

/// The server's VAPID public key.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PushKey)]
pub struct PushKeyView {
    /// The uncompressed P-256 public key in base64url, for `applicationServerKey`.
    pub public_key: String,
}

/// Hours of the same days of the week, in the user's time zone.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WorkingPeriod)]
pub struct WorkingPeriodView {
    #[schema(schema_with = schema::weekdays)]
    days: Vec<&'static str>,
    #[schema(schema_with = schema::clock)]
    end: String,
    #[schema(schema_with = schema::clock)]
    start: String,
}

pub fn user_view(user: &User) -> UserView {
    UserView {
        email: user.email.as_str().to_owned(),
        id: user.id.to_string(),
        name: user.name.clone(),
        time_zone: user.time_zone.clone(),
        token: None,
        working_hours: working_hours_view(&user.working_hours),
        phone: None,
        reminders: reminders_view(&user.reminders.before),
        channels: user
            .reminders
            .channels
            .iter()
            .map(|channel| channel.as_str())
            .collect(),
    }
}

/// Writes a user with the details that only they and the administrator see.
pub fn private_user_view(user: &User) -> UserView {
    let mut view = user_view(user);
    view.phone = user.phone.as_ref().map(|phone| phone.as_str().to_owned());
    view
}

fn reminders_view(offsets: &[ReminderOffset]) -> Vec<ReminderView> {
    offsets
        .iter()
        .map(|offset| ReminderView {
            before: offset.as_str().to_owned(),
        })
        .collect()
}

/// Writes working hours as the request form reads them: one entry per run of days with the
/// same hours.
fn working_hours_view(hours: &WorkingHours) -> Vec<WorkingPeriodView> {
    let mut entries: Vec<(Vec<&'static str>, u16, u16)> = Vec::new();
    for period in hours.periods() {
        let day = weekday_name(period.day);
        match entries
            .iter_mut()
            .find(|(_, start, end)| (*start, *end) == (period.start_minute, period.end_minute))
        {
            Some((days, _, _)) if !days.contains(&day) => days.push(day),
            _ => entries.push((vec![day], period.start_minute, period.end_minute)),
        }
    }
    entries
        .into_iter()
        .map(|(days, start, end)| WorkingPeriodView {
            days,
            end: clock(end),
            start: clock(start),
        })
        .collect()
}

/// An event with every attendee's reply to the invitation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Event)]
pub struct EventView {
    /// Whether `start` and `end` are dates rather than times.
    all_day: bool,
    /// Each attendee's reply, the organizer first.
    answers: Vec<AnswerView>,
    description: Option<String>,
    /// The end, exclusive: a time with the offset of the event's zone, or for an all-day
    /// event the first date after it.
    #[schema(schema_with = schema::time_or_date)]
    end: String,
    #[schema(format = Uuid)]
    id: String,
    location: Option<String>,
    #[schema(format = Uuid)]
    organizer: String,
    #[schema(schema_with = schema::user_ids)]
    participants: Vec<String>,
    /// The repetition rules, or `null` for a single event.
    recurrence: Option<RecurrenceView>,
    reminders: Vec<ReminderView>,
    /// The iCalendar SEQUENCE, raised whenever the time changes.
    #[schema(minimum = 0)]
    sequence: u32,
    /// The first start: a time with the offset of the event's zone, or a date for an all-day
    /// event.
    #[schema(schema_with = schema::time_or_date)]
    start: String,
    #[schema(schema_with = schema::event_status)]
    status: &'static str,
    /// The IANA time zone the event's times are read in.
    time_zone: String,
    title: String,
}

/// The repetition rules of an event, read in the event's time zone from its first start.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Recurrence)]
pub struct RecurrenceView {
    #[schema(schema_with = schema::times_or_dates)]
    exdates: Vec<String>,
    #[schema(schema_with = schema::times_or_dates)]
    rdates: Vec<String>,
    /// RFC 5545 RRULE values, such as `FREQ=WEEKLY;BYDAY=MO`.
    rrule: Vec<String>,
}

/// A reminder sent to every attendee before each occurrence.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Reminder)]
pub struct ReminderView {
    #[schema(schema_with = schema::reminder_offset)]
    before: String,
}

pub fn event_view(event: &Event, answers: &[(UserId, Answer)]) -> EventView {
    let tz = TimeZone::get(&event.time_zone).unwrap_or(TimeZone::UTC);
    // An all-day event shows its dates, as they were given; the end date is exclusive.
    let moment = |at: Timestamp| {
        if event.all_day {
            at.to_zoned_datetime(tz.clone()).date().to_string()
        } else {
            in_zone(at, &tz)
        }
    };
    let recurrence = event.recurrence.as_ref().map(|recurrence| RecurrenceView {
        exdates: recurrence.exdates.iter().map(|at| moment(*at)).collect(),
        rdates: recurrence.rdates.iter().map(|at| moment(*at)).collect(),
        rrule: recurrence.rules.iter().map(ToString::to_string).collect(),
    });
    EventView {
        all_day: event.all_day,
        answers: answers_view(answers),
        description: event.description.clone(),
        end: moment(event.interval.end()),
        id: event.id.to_string(),
        location: event.location.clone(),
        organizer: event.organizer.to_string(),
        participants: event.participants.iter().map(ToString::to_string).collect(),
        recurrence,
        reminders: reminders_view(&event.reminders),
        sequence: event.sequence,
        start: moment(event.interval.start()),
        status: event.status.as_str(),
        time_zone: event.time_zone.clone(),
        title: event.title.clone(),
    }
}

/// One attendee's reply to an invitation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Answer)]
pub struct AnswerView {
    #[schema(schema_with = schema::answer)]
    response: &'static str,
    #[schema(format = Uuid)]
    user: String,
}

/// Writes each attendee's answer to the invitation, in attendee order.
pub fn answers_view(answers: &[(UserId, Answer)]) -> Vec<AnswerView> {
    answers
        .iter()
        .map(|(user, answer)| AnswerView {
            response: answer.as_str(),
            user: user.to_string(),
        })
        .collect()
}

/// The replies to an event's invitation after an RSVP.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Replies)]
pub struct RsvpView {
    answers: Vec<AnswerView>,
    #[schema(format = Uuid)]
    event: String,
}

pub fn rsvp_view(event: impl ToString, answers: &[(UserId, Answer)]) -> RsvpView {
    RsvpView {
        answers: answers_view(answers),
        event: event.to_string(),
    }
}

/// A half-open interval `[start, end)` in UTC.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Interval)]
pub struct IntervalView {
    #[schema(format = DateTime)]
    end: String,
    #[schema(format = DateTime)]
    start: String,
}

pub fn interval_view(interval: &Interval) -> IntervalView {
    IntervalView {
        end: interval.end().to_string(),
        start: interval.start().to_string(),
    }
}

/// A user's busy time inside a window, overlapping and touching intervals joined.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BusyTime)]
pub struct BusyView {
    busy: Vec<IntervalView>,
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    #[schema(format = Uuid)]
    user: String,
}

pub fn busy_view(user: UserId, from: Timestamp, to: Timestamp, busy: &[Interval]) -> BusyView {
    BusyView {
        busy: busy.iter().map(interval_view).collect(),
        from: from.to_string(),
        to: to.to_string(),
        user: user.to_string(),
    }
}

/// The earliest free slots for a group of people.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Slots)]
pub struct SlotsView {
    slots: Vec<IntervalView>,
}

pub fn slots_view(slots: &[Interval]) -> SlotsView {
    SlotsView {
        slots: slots.iter().map(interval_view).collect(),
    }
}

/// One attendee's busy time that meets the requested event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Conflict)]
pub struct ConflictView {
    busy: Vec<IntervalView>,
    #[schema(format = Uuid)]
    user: String,
}

pub fn conflict_view(conflict: &Conflict) -> ConflictView {
    ConflictView {
        busy: conflict.busy.iter().map(interval_view).collect(),
        user: conflict.user.to_string(),
    }
}

/// One attendee's reminder before one occurrence, with its latest result.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReminderDelivery)]
pub struct DeliveryView {
    #[schema(minimum = 0)]
    attempts: u32,
    #[schema(schema_with = schema::reminder_offset)]
    before: String,
    #[schema(schema_with = schema::channel)]
    channel: &'static str,
    #[schema(format = DateTime)]
    due_at: String,
    #[schema(format = Uuid)]
    id: String,
    last_attempt: Option<AttemptView>,
    /// The queued e-mail that carries the reminder, once there is one.
    #[schema(format = Uuid)]
    message: Option<String>,
    #[schema(schema_with = schema::delivery_status)]
    status: &'static str,
    #[schema(format = Uuid)]
    user: String,
}

pub fn delivery_view(delivery: &Delivery) -> DeliveryView {
    DeliveryView {
        attempts: delivery.attempts,
        before: delivery.offset.as_str().to_owned(),
        channel: delivery.channel.as_str(),
        due_at: delivery.due_at.to_string(),
        id: delivery.id.to_string(),
        last_attempt: delivery.last_attempt.as_ref().map(attempt_view),
        message: delivery.message_id.map(|id| id.to_string()),
        status: delivery.state.as_str(),
        user: delivery.user_id.to_string(),
    }
}

/// A queued e-mail and each recipient's state.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Message)]
pub struct MessageView {
    #[schema(format = DateTime)]
    created_at: String,
    /// When a recipient that still fails temporarily fails for good.
    #[schema(format = DateTime)]
    expires_at: String,
    #[schema(format = Uuid)]
    id: String,
    recipients: Vec<RecipientView>,
    sender: String,
    /// The size of the stored message in bytes.
    #[schema(minimum = 0)]
    size: u64,
}

/// One recipient of a queued e-mail.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Recipient)]
pub struct RecipientView {
    address: String,
    attempts: Vec<AttemptView>,
    #[schema(format = DateTime)]
    next_attempt_at: Option<String>,
    /// The reminder delivery this recipient carries, if any.
    #[schema(format = Uuid)]
    reminder: Option<String>,
    #[schema(schema_with = schema::recipient_status)]
    status: &'static str,
}

pub fn message_view(message: &MailMessage) -> MessageView {
    MessageView {
        created_at: message.created_at.to_string(),
        expires_at: message.expires_at.to_string(),
        id: message.id.to_string(),
        recipients: message.recipients.iter().map(recipient_view).collect(),
        sender: message.sender.clone(),
        size: message.size,
    }
}

fn recipient_view(recipient: &MailRecipient) -> RecipientView {
    RecipientView {
        address: recipient.address.clone(),
        attempts: recipient.attempts.iter().map(attempt_view).collect(),
        next_attempt_at: recipient.next_attempt_at.map(|at| at.to_string()),
        reminder: recipient.delivery.map(|id| id.to_string()),
        status: recipient.state.as_str(),
    }
}

/// One attempt to deliver an e-mail to one recipient.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Attempt)]
pub struct AttemptView {
    #[schema(format = DateTime)]
    at: String,
    /// The server tried last, or `null` when none was reached.
    destination: Option<String>,
    /// The SMTP reply code, or `null` for a local error such as a refused connection.
    #[schema(minimum = 200, maximum = 599)]
    reply_code: Option<u16>,
    reply_text: String,
    #[schema(schema_with = schema::attempt_result)]
    result: &'static str,
    tls: bool,
    tls_cipher: Option<String>,
    tls_version: Option<String>,
}

fn attempt_view(attempt: &DeliveryAttempt) -> AttemptView {
    AttemptView {
        at: attempt.at.to_string(),
        destination: attempt.destination.clone(),
        reply_code: attempt.reply_code,
        reply_text: attempt.reply_text.clone(),
        result: attempt.outcome.as_str(),
        tls: attempt.tls,
        tls_cipher: attempt.tls_cipher.clone(),
        tls_version: attempt.tls_version.clone(),
    }
}

/// The result of a calendar import.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CalendarImport)]
pub struct ImportView {
    /// How many events were stored.
    #[schema(minimum = 0)]
    pub imported: usize,
    pub skipped: Vec<SkippedView>,
    #[schema(format = Uuid)]
    pub user: String,
}

/// A component of an imported calendar that was left out, and why.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SkippedComponent)]
pub struct SkippedView {
    /// The line of the component's BEGIN, present when the calendar reader skipped it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, nullable = false)]
    pub line: Option<usize>,
    pub reason: String,
    pub uid: Option<String>,
}

/// The result of removing a user's imported calendar.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RemovedImport)]
pub struct RemovedView {
    #[schema(minimum = 0)]
    pub removed: usize,
    #[schema(format = Uuid)]
    pub user: String,
}

/// A new calendar feed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Feed)]
pub struct FeedView {
    #[schema(format = Uuid)]
    pub id: String,
    /// The feed's path on this server, with its secret token; shown only once.
    pub url: String,
    #[schema(format = Uuid)]
    pub user: String,
}

/// The state of a probe.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Health)]
pub struct HealthView {
    #[schema(examples("ok"))]
    pub status: &'static str,
}

fn in_zone(at: Timestamp, tz: &TimeZone) -> String {
    let offset = tz.to_offset(at);
    if offset == Offset::UTC || offset.seconds() % 60 != 0 {
        return at.to_string();
    }
    at.display_with_offset(offset).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that `view` serializes its fields in alphabetical order, as the `json!` maps
    /// that it replaced did: serde_json's `Value` keeps object keys sorted.
    fn assert_sorted(view: &impl Serialize) {
        let written = serde_json::to_string(view).unwrap();
        let sorted = serde_json::to_string(&serde_json::to_value(view).unwrap()).unwrap();
        assert_eq!(written, sorted);
    }

    fn text(value: &str) -> String {
        value.to_owned()
    }

    fn attempt() -> AttemptView {
        AttemptView {
            at: text("2030-01-15T08:45:00Z"),
            destination: Some(text("mx.example.org")),
            reply_code: Some(250),
            reply_text: text("OK"),
            result: "delivered",
            tls: true,
            tls_cipher: None,
            tls_version: Some(text("TLSv1.3")),
        }
    }

    fn interval() -> IntervalView {
        IntervalView {
            end: text("2030-01-15T09:00:00Z"),
            start: text("2030-01-15T08:00:00Z"),
        }
    }

    #[test]
    fn views_write_fields_in_alphabetical_order() {
        let answer = || AnswerView {
            response: "accepted",
            user: text("u"),
        };

        assert_sorted(&UserView {
            channels: vec!["email", "push"],
            email: text("ann@example.org"),
            id: text("u"),
            name: text("Ann"),
            phone: Some(text("+4915112345678")),
            reminders: vec![ReminderView {
                before: text("PT15M"),
            }],
            time_zone: None,
            token: Some(text("cnv_secret")),
            working_hours: vec![WorkingPeriodView {
                days: vec!["monday"],
                end: text("17:00"),
                start: text("09:00"),
            }],
        });
        assert_sorted(&TokenView {
            created_at: text("2030-01-15T08:00:00Z"),
            id: text("t"),
            token: Some(text("cnv_secret")),
            user: text("u"),
        });
        assert_sorted(&FeedIdView {
            id: text("f"),
            user: text("u"),
        });
        assert_sorted(&PushSubscriptionView {
            created_at: text("2030-01-15T08:00:00Z"),
            endpoint: text("https://push.example.org/send/1"),
            id: text("p"),
            user: text("u"),
        });

        assert_sorted(&EventView {
            all_day: false,
            answers: vec![answer()],
            description: None,
            end: text("2030-01-15T10:00:00+01:00"),
            id: text("e"),
            location: Some(text("Room 4")),
            organizer: text("u"),
            participants: vec![text("v")],
            recurrence: Some(RecurrenceView {
                exdates: vec![],
                rdates: vec![text("2030-01-16T09:00:00+01:00")],
                rrule: vec![text("FREQ=WEEKLY")],
            }),
            reminders: vec![ReminderView {
                before: text("PT15M"),
            }],
            sequence: 0,
            start: text("2030-01-15T09:00:00+01:00"),
            status: "confirmed",
            time_zone: text("Europe/Berlin"),
            title: text("Planning"),
        });

        assert_sorted(&RsvpView {
            answers: vec![answer()],
            event: text("e"),
        });

        assert_sorted(&BusyView {
            busy: vec![interval()],
            from: text("2030-01-15T00:00:00Z"),
            to: text("2030-01-16T00:00:00Z"),
            user: text("u"),
        });

        assert_sorted(&SlotsView {
            slots: vec![interval()],
        });

        assert_sorted(&ConflictView {
            busy: vec![interval()],
            user: text("u"),
        });

        assert_sorted(&DeliveryView {
            attempts: 1,
            before: text("PT15M"),
            channel: "email",
            due_at: text("2030-01-15T07:45:00Z"),
            id: text("d"),
            last_attempt: Some(attempt()),
            message: Some(text("m")),
            status: "delivered",
            user: text("u"),
        });

        assert_sorted(&MessageView {
            created_at: text("2030-01-15T07:45:00Z"),
            expires_at: text("2030-01-20T07:45:00Z"),
            id: text("m"),
            recipients: vec![RecipientView {
                address: text("bob@example.org"),
                attempts: vec![attempt()],
                next_attempt_at: None,
                reminder: Some(text("d")),
                status: "delivered",
            }],
            sender: text("reminders@example.org"),
            size: 1391,
        });

        assert_sorted(&ImportView {
            imported: 1,
            skipped: vec![
                SkippedView {
                    line: Some(7),
                    reason: text("no DTSTART"),
                    uid: None,
                },
                SkippedView {
                    line: None,
                    reason: text("floating time"),
                    uid: Some(text("a@example.org")),
                },
            ],
            user: text("u"),
        });

        assert_sorted(&RemovedView {
            removed: 2,
            user: text("u"),
        });

        assert_sorted(&FeedView {
            id: text("f"),
            url: text("/v1/feeds/token.ics"),
            user: text("u"),
        });

        assert_sorted(&HealthView { status: "ok" });
    }
}

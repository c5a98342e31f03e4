//! The recurrence set: DTSTART, the rules, RDATE and EXDATE together
//! (RFC 5545 §3.8.5).

use std::collections::HashSet;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::calendar::SECONDS_PER_DAY;
use crate::error::ExpandError;
use crate::expand::{Form, Instance, RuleExpansion, local_from_datetime};
use crate::rule::Rule;
use crate::value::DateOrTime;

/// Whether DTSTART belongs to the recurrence set when no rule generates it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartInstance {
    /// DTSTART is always the first occurrence, as RFC 5545 §3.8.5.3 requires,
    /// and it takes one of each rule's COUNT places: a DTSTART that a rule
    /// with COUNT=3 does not match is followed by two generated instances
    /// (§3.3.10: "The DTSTART property value always counts as the first
    /// occurrence").
    #[default]
    Always,
    /// DTSTART is an occurrence only when a rule generates it, or when there
    /// is no rule. This is how python-dateutil and libical expand a rule
    /// whose DTSTART does not match it, a case RFC 5545 leaves undefined.
    WhenGenerated,
}

/// The maximum number of candidates examined to produce one result: one
/// item of [`Occurrences`] or one call of [`Recurrence::between`].
///
/// A candidate is a day examined in a period of a day or longer, a period
/// shorter than a day, or a generated date-time. Deciding that a rule never
/// matches again, such as `FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30`, examines
/// up to one 400-year cycle, 146,097 days, and counts against the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget(u64);

impl Budget {
    /// One million candidates: several 400-year cycles of a rule that never
    /// matches, or a one-year window of a MINUTELY rule.
    pub const DEFAULT: Budget = Budget(1_000_000);

    pub fn new(max_candidates: u64) -> Budget {
        Budget(max_candidates)
    }

    pub fn max_candidates(self) -> u64 {
        self.0
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::DEFAULT
    }
}

/// A recurring component's DTSTART, RRULEs, RDATEs and EXDATEs.
///
/// Every occurrence has DTSTART's form: an RDATE or EXDATE in another zone
/// is converted to DTSTART's zone, a date RDATE takes DTSTART's time of day,
/// and for a date DTSTART only the date of a date-time is used. A date
/// EXDATE removes every instance on that local date, and any other EXDATE
/// removes the instance at the same instant (zoned DTSTART) or the same
/// local time (floating DTSTART).
///
/// RDATE values of type PERIOD are passed as their start. An overridden
/// instance (RECURRENCE-ID) is the caller's: it adds the original start to
/// `exdates` and keeps the override as a separate event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurrence {
    pub start: DateOrTime,
    /// DTSTART's local date-time as written, for a zoned DTSTART whose
    /// local time the zone skips (a DST gap). `start` holds the time moved
    /// forward, which is the first occurrence, and the rules generate the
    /// written time of day on other days. `None` means `start`'s own local
    /// time, and the field is ignored unless `start` is zoned.
    pub written_start: Option<DateTime>,
    pub rules: Vec<Rule>,
    pub rdates: Vec<DateOrTime>,
    pub exdates: Vec<DateOrTime>,
    pub start_instance: StartInstance,
}

impl Recurrence {
    /// Creates a recurrence with only DTSTART, which is then its single
    /// occurrence.
    pub fn new(start: DateOrTime) -> Recurrence {
        Recurrence {
            start,
            written_start: None,
            rules: Vec::new(),
            rdates: Vec::new(),
            exdates: Vec::new(),
            start_instance: StartInstance::Always,
        }
    }

    /// Returns the local date-time from which the rules generate instances.
    fn start_local(&self) -> DateTime {
        match (&self.start, self.written_start) {
            (DateOrTime::Zoned(_), Some(written)) => written,
            (start, _) => start.local(),
        }
    }

    /// Returns the occurrences in order, lazily and without duplicates,
    /// with the default [`Budget`] for each item.
    pub fn occurrences(&self) -> Occurrences<'_> {
        self.occurrences_with_budget(Budget::DEFAULT)
    }

    /// Returns the occurrences like [`Recurrence::occurrences`], with
    /// `budget` for each item.
    pub fn occurrences_with_budget(&self, budget: Budget) -> Occurrences<'_> {
        let state = Expansion::new(self).map_err(Some);
        Occurrences { state, budget }
    }

    /// Returns the occurrences that start in `[from, to)`, in order.
    ///
    /// Dates and floating date-times are read in `floating_zone`, a date
    /// meaning the start of its day. A rule without COUNT is expanded from
    /// the period that contains `from`, so the cost depends on the window
    /// and not on how far it lies from DTSTART. A rule with COUNT is walked
    /// from DTSTART, because only that walk determines which instances count.
    /// `budget` covers the whole call.
    pub fn between(
        &self,
        from: Timestamp,
        to: Timestamp,
        floating_zone: &TimeZone,
        budget: Budget,
    ) -> Result<Vec<DateOrTime>, ExpandError> {
        let context = Context::new(self);
        if from >= to {
            return Ok(Vec::new());
        }
        let clock = match &context.form {
            Form::Zoned(zone) => zone.clone(),
            _ => floating_zone.clone(),
        };
        let instant = |instance: &Instance| match &context.form {
            Form::Zoned(_) => instance.key,
            _ => floating_zone
                .to_ambiguous_timestamp(
                    crate::expand::to_datetime(instance.local).expect("in range"),
                )
                .compatible()
                .map_or(i64::MAX, Timestamp::as_second),
        };
        let in_window = |instance: &Instance| {
            let second = instant(instance);
            second >= from.as_second() && second < to.as_second()
        };
        // Local clocks differ from UTC by less than a day, and zones have
        // moved their clocks by at most a day at once, so two days of
        // margin cover every instance whose instant lies in the window.
        let margin = 2 * SECONDS_PER_DAY;
        let from_local = local_from_datetime(clock.to_datetime(from)) - margin;
        let to_local = local_from_datetime(clock.to_datetime(to)) + margin;

        let mut found: Vec<Instance> = context.explicit.iter().copied().filter(in_window).collect();
        let mut examined = 0;
        for rule in &self.rules {
            let mut expansion = RuleExpansion::new(rule, &self.start, self.start_local())?
                .start_takes_count(self.start_instance == StartInstance::Always);
            expansion.seek(from_local);
            expansion.stop_after(to_local);
            while let Some(instance) = expansion.next(&mut examined, budget.max_candidates())? {
                if instance.local > to_local {
                    break;
                }
                if in_window(&instance) {
                    found.push(instance);
                }
            }
        }

        found.sort_by_key(|instance| instance.key);
        found.dedup_by_key(|instance| instance.key);
        Ok(found
            .into_iter()
            .filter(|instance| !context.is_excluded(instance))
            .map(|instance| context.form.value(instance))
            .collect())
    }
}

/// The parts of a recurrence besides its rules, in DTSTART's form.
struct Context {
    form: Form,
    /// DTSTART (when it always counts) and the RDATEs, sorted.
    explicit: Vec<Instance>,
    excluded_keys: HashSet<i64>,
    excluded_days: HashSet<i64>,
    /// The key of DTSTART, before which no rule generates an instance.
    start_key: i64,
}

impl Context {
    fn new(recurrence: &Recurrence) -> Context {
        let form = Form::of(&recurrence.start);
        let start_local = local_from_datetime(recurrence.start_local());
        let time_of_day = start_local.rem_euclid(SECONDS_PER_DAY);

        let start_counts =
            recurrence.start_instance == StartInstance::Always || recurrence.rules.is_empty();
        let start = start_counts.then_some(&recurrence.start);
        let mut explicit: Vec<Instance> = start
            .into_iter()
            .chain(&recurrence.rdates)
            .filter_map(|value| form.place_value(value, time_of_day))
            .collect();
        explicit.sort_by_key(|instance| instance.key);
        explicit.dedup_by_key(|instance| instance.key);

        let mut excluded_keys = HashSet::new();
        let mut excluded_days = HashSet::new();
        for exdate in &recurrence.exdates {
            match exdate {
                DateOrTime::Date(_) => {
                    let local = local_from_datetime(exdate.local());
                    excluded_days.insert(local.div_euclid(SECONDS_PER_DAY));
                }
                other => {
                    if let Some(instance) = form.place_value(other, time_of_day) {
                        excluded_keys.insert(instance.key);
                    }
                }
            }
        }
        let start_key = form
            .place_value(&recurrence.start, time_of_day)
            .map_or(i64::MIN, |instance| instance.key);
        Context {
            form,
            start_key,
            explicit,
            excluded_keys,
            excluded_days,
        }
    }

    fn is_excluded(&self, instance: &Instance) -> bool {
        self.excluded_keys.contains(&instance.key)
            || self
                .excluded_days
                .contains(&instance.local.div_euclid(SECONDS_PER_DAY))
    }
}

/// The lazy occurrences of a [`Recurrence`], in order and without
/// duplicates. After an error the iterator ends.
pub struct Occurrences<'a> {
    state: Result<Expansion<'a>, Option<ExpandError>>,
    budget: Budget,
}

/// The state of one pass over a recurrence: one stream per rule, merged
/// with the explicit instances by key.
struct Expansion<'a> {
    context: Context,
    rules: Vec<RuleExpansion<'a>>,
    heads: Vec<Head>,
    next_explicit: usize,
    last_key: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Head {
    Unread,
    Ready(Instance),
    Finished,
}

impl<'a> Expansion<'a> {
    fn new(recurrence: &'a Recurrence) -> Result<Expansion<'a>, ExpandError> {
        let rules = recurrence
            .rules
            .iter()
            .map(|rule| {
                RuleExpansion::new(rule, &recurrence.start, recurrence.start_local()).map(
                    |expansion| {
                        expansion
                            .start_takes_count(recurrence.start_instance == StartInstance::Always)
                    },
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Expansion {
            context: Context::new(recurrence),
            heads: vec![Head::Unread; rules.len()],
            rules,
            next_explicit: 0,
            last_key: None,
        })
    }

    fn next(&mut self, budget: Budget) -> Result<Option<DateOrTime>, ExpandError> {
        let mut examined = 0;
        loop {
            // No rule generates an instance before DTSTART, so an explicit
            // instance up to DTSTART goes first without asking the rules,
            // which may spend their budget before they find anything.
            if let Some(&instance) = self.context.explicit.get(self.next_explicit)
                && instance.key <= self.context.start_key
            {
                self.next_explicit += 1;
                if let Some(value) = self.accept(instance) {
                    return Ok(Some(value));
                }
                continue;
            }

            for (rule, head) in self.rules.iter_mut().zip(&mut self.heads) {
                if *head == Head::Unread {
                    *head = match rule.next(&mut examined, budget.max_candidates())? {
                        Some(instance) => Head::Ready(instance),
                        None => Head::Finished,
                    };
                }
            }

            // Take the smallest instance of the rule heads and the explicit list.
            let mut best: Option<(Instance, Option<usize>)> = self
                .context
                .explicit
                .get(self.next_explicit)
                .map(|&instance| (instance, None));
            for (index, head) in self.heads.iter().enumerate() {
                if let Head::Ready(instance) = *head
                    && best.is_none_or(|(current, _)| instance.key < current.key)
                {
                    best = Some((instance, Some(index)));
                }
            }
            let Some((instance, source)) = best else {
                return Ok(None);
            };
            match source {
                Some(index) => self.heads[index] = Head::Unread,
                None => self.next_explicit += 1,
            }

            if let Some(value) = self.accept(instance) {
                return Ok(Some(value));
            }
        }
    }

    /// Returns the value of the next instance in order unless it repeats
    /// the previous one or an EXDATE removes it.
    fn accept(&mut self, instance: Instance) -> Option<DateOrTime> {
        if self.last_key == Some(instance.key) {
            return None;
        }
        self.last_key = Some(instance.key);
        if self.context.is_excluded(&instance) {
            return None;
        }
        Some(self.context.form.value(instance))
    }
}

impl Iterator for Occurrences<'_> {
    type Item = Result<DateOrTime, ExpandError>;

    fn next(&mut self) -> Option<Self::Item> {
        let expansion = match &mut self.state {
            Ok(expansion) => expansion,
            Err(error) => return error.take().map(Err),
        };
        match expansion.next(self.budget) {
            Ok(Some(value)) => Some(Ok(value)),
            Ok(None) => None,
            Err(error) => {
                self.state = Err(None);
                Some(Err(error))
            }
        }
    }
}

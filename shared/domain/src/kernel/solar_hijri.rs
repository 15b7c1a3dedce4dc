//! The Solar Hijri (Persian, هجری شمسی) date an invoice prints, taken in Tehran's local time.
//!
//! The calendar arithmetic is ICU4X's Persian calendar, which follows the astronomical (vernal
//! equinox) leap years through its correction table rather than the 33-year arithmetic cycle
//! that drifts from the official calendar; month names and digits are our own small tables.
//!
//! Tehran's offset from UTC: +03:30, and +04:30 in summer while Iran kept daylight saving time
//! (abolished from 1401/06/31, 2022-09-22). The summer rule applied is the one in force for the
//! years 1371–1384 and 1387–1401 (1992–2005 and 2008–2022): from 1 Farvardin 24:00 to
//! 30 Shahrivar 24:00 (summer time), i.e. from the start of 2 Farvardin to the start of
//! 31 Shahrivar. Earlier years had irregular rules (and a +04:00 standard offset in 1977–1979);
//! for instants before 1371 (March 1992) this module uses +03:30 throughout, so a date within an
//! hour of midnight in those summers may be a day early. Invoices are dated when they are issued,
//! so only the present rule matters to them.

use std::fmt;

use icu_calendar::Date;
use icu_calendar::cal::Persian;
use icu_calendar::types::RataDie;
use time::{OffsetDateTime, UtcOffset};

use crate::kernel::persian_format::persian_digits;

const SECONDS_PER_DAY: i64 = 86_400;
const STANDARD_SECONDS: i64 = 3 * 3_600 + 30 * 60;
const SUMMER_SECONDS: i64 = STANDARD_SECONDS + 3_600;
/// Rata Die (days since 0001-01-01 proleptic Gregorian, that day being 1) of 1970-01-01, so that
/// a Unix day number converts to ICU4X's day count by one addition.
const UNIX_EPOCH_RATA_DIE: i64 = 719_163;

// Both offsets are valid by construction; evaluating them in a const turns a typo into a
// compile error instead of a run-time failure.
const STANDARD: UtcOffset = match UtcOffset::from_hms(3, 30, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("+03:30 is a valid offset"),
};
const SUMMER: UtcOffset = match UtcOffset::from_hms(4, 30, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("+04:30 is a valid offset"),
};

const MONTH_NAMES: [&str; 12] =
    ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"];

/// A day of the Solar Hijri calendar. It exists only as a real day of that calendar (no
/// 1403/07/31, no Esfand 30 in a common year), which is why its fields are read through methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SolarDate {
    year: i32,
    month: u8,
    day: u8,
}

impl SolarDate {
    /// `None` unless the day exists in that year of the calendar.
    pub fn new(year: i32, month: u8, day: u8) -> Option<SolarDate> {
        Date::try_new_persian(year, month, day).ok()?;
        Some(SolarDate { year, month, day })
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    /// 1 (Farvardin) to 12 (Esfand).
    pub fn month(&self) -> u8 {
        self.month
    }

    pub fn day(&self) -> u8 {
        self.day
    }

    /// The month's Persian name, «فروردین» to «اسفند».
    pub fn month_name(&self) -> &'static str {
        usize::from(self.month).checked_sub(1).and_then(|index| MONTH_NAMES.get(index)).copied().unwrap_or_default()
    }

    /// `۱۴۰۴/۰۱/۰۱`: the numeric date in Persian digits, as printed on an invoice.
    pub fn persian(&self) -> String {
        persian_digits(&self.to_string())
    }

    /// «۱ فروردین ۱۴۰۴»: the date as written in prose, day without a leading zero.
    pub fn long_persian(&self) -> String {
        persian_digits(&format!("{} {} {}", self.day, self.month_name(), self.year))
    }

    /// The same day in the Gregorian calendar (for documents read outside Iran).
    pub fn gregorian(&self) -> Option<time::Date> {
        // Julian day number of 1970-01-01.
        const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
        let day = unix_day_of(self.year, self.month, self.day)? + UNIX_EPOCH_JULIAN_DAY;
        time::Date::from_julian_day(i32::try_from(day).ok()?).ok()
    }

    fn from_icu(date: &Date<Persian>) -> SolarDate {
        SolarDate { year: date.era_year().extended_year, month: date.month().ordinal, day: date.day_of_month().0 }
    }
}

/// `1404/01/01`: ASCII digits, zero-padded month and day, for data and logs.
impl fmt::Display for SolarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }
}

/// Whether Esfand of `year` has a 30th day.
pub fn is_leap_year(year: i32) -> bool {
    SolarDate::new(year, 12, 30).is_some()
}

/// The Solar Hijri date of the instant `at` on a calendar in Tehran.
pub fn tehran_date(at: OffsetDateTime) -> SolarDate {
    let unix = at.unix_timestamp();
    let local_day = (unix + tehran_offset_seconds(unix)).div_euclid(SECONDS_PER_DAY);
    SolarDate::from_icu(&persian_from_unix_day(local_day))
}

/// Tehran's offset from UTC at the instant `at` (see the module's note on daylight saving).
pub fn tehran_offset(at: OffsetDateTime) -> UtcOffset {
    if tehran_offset_seconds(at.unix_timestamp()) == SUMMER_SECONDS { SUMMER } else { STANDARD }
}

fn tehran_offset_seconds(unix: i64) -> i64 {
    // Summer time lies in the middle of the year, so the year read at standard time is the year
    // whose summer could contain this instant.
    let standard_day = (unix + STANDARD_SECONDS).div_euclid(SECONDS_PER_DAY);
    let year = persian_from_unix_day(standard_day).era_year().extended_year;
    if !kept_summer_time(year) {
        return STANDARD_SECONDS;
    }
    // Clocks went forward at 00:00 standard time on 2 Farvardin and back at 00:00 summer time on
    // 31 Shahrivar.
    match (unix_day_of(year, 1, 2), unix_day_of(year, 6, 31)) {
        (Some(start), Some(end))
            if unix >= start * SECONDS_PER_DAY - STANDARD_SECONDS && unix < end * SECONDS_PER_DAY - SUMMER_SECONDS =>
        {
            SUMMER_SECONDS
        }
        _ => STANDARD_SECONDS,
    }
}

fn kept_summer_time(year: i32) -> bool {
    (1371..=1384).contains(&year) || (1387..=1401).contains(&year)
}

fn persian_from_unix_day(day: i64) -> Date<Persian> {
    Date::from_rata_die(RataDie::new(day + UNIX_EPOCH_RATA_DIE), Persian)
}

fn unix_day_of(year: i32, month: u8, day: u8) -> Option<i64> {
    let date = Date::try_new_persian(year, month, day).ok()?;
    Some(date.to_rata_die().to_i64_date() - UNIX_EPOCH_RATA_DIE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Helpers instead of `time`'s macros, which the crate does not enable.
    fn utc(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> OffsetDateTime {
        let month = time::Month::try_from(month).unwrap();
        time::Date::from_calendar_date(year, month, day).unwrap().with_hms(hour, minute, second).unwrap().assume_utc()
    }

    fn noon(year: i32, month: u8, day: u8) -> OffsetDateTime {
        utc(year, month, day, 9, 0, 0)
    }

    #[test]
    fn unix_epoch_rata_die_agrees_with_icu() {
        let epoch = Date::try_new_iso(1970, 1, 1).unwrap();
        assert_eq!(epoch.to_rata_die().to_i64_date(), UNIX_EPOCH_RATA_DIE);
    }

    #[test]
    fn domain_rules_vectors() {
        assert_eq!(tehran_date(noon(2025, 3, 20)).to_string(), "1403/12/30");
        assert_eq!(tehran_date(noon(2025, 3, 21)).to_string(), "1404/01/01");
        assert_eq!(tehran_date(noon(2026, 3, 21)).to_string(), "1405/01/01");
    }

    #[test]
    fn the_day_turns_at_midnight_in_tehran_not_in_utc() {
        assert_eq!(tehran_date(utc(2025, 3, 20, 20, 29, 59)).to_string(), "1403/12/30");
        assert_eq!(tehran_date(utc(2025, 3, 20, 20, 30, 0)).to_string(), "1404/01/01");
        assert_eq!(tehran_date(utc(2025, 3, 20, 0, 0, 0)).to_string(), "1403/12/30");
        assert_eq!(tehran_date(utc(2025, 3, 19, 20, 30, 0)).to_string(), "1403/12/30");
        assert_eq!(tehran_date(utc(2025, 3, 19, 20, 29, 59)).to_string(), "1403/12/29");
    }

    #[test]
    fn an_instant_in_another_offset_is_the_same_instant() {
        let at = utc(2025, 3, 20, 20, 45, 0);
        let in_new_york = at.to_offset(UtcOffset::from_hms(-4, 0, 0).unwrap());
        assert_eq!(tehran_date(in_new_york), tehran_date(at));
    }

    #[test]
    fn no_summer_time_since_1401() {
        // Summer 2024 and 2025: +03:30, so 20:29:59Z is still the same day.
        assert_eq!(tehran_offset(noon(2024, 7, 1)), STANDARD);
        assert_eq!(tehran_date(utc(2025, 7, 1, 20, 29, 59)).to_string(), "1404/04/10");
        assert_eq!(tehran_date(utc(2025, 7, 1, 20, 30, 0)).to_string(), "1404/04/11");
        assert_eq!(tehran_offset(utc(2022, 9, 21, 20, 30, 0)), STANDARD);
    }

    #[test]
    fn the_last_summer_time_of_1401() {
        // 2 Farvardin 1401 = 2022-03-22, 31 Shahrivar 1401 = 2022-09-22.
        assert_eq!(tehran_offset(utc(2022, 3, 21, 20, 29, 59)), STANDARD);
        assert_eq!(tehran_offset(utc(2022, 3, 21, 20, 30, 0)), SUMMER);
        assert_eq!(tehran_offset(utc(2022, 9, 21, 19, 29, 59)), SUMMER);
        assert_eq!(tehran_offset(utc(2022, 9, 21, 19, 30, 0)), STANDARD);
        // In summer the day turned at 19:30Z.
        assert_eq!(tehran_date(utc(2022, 7, 1, 19, 29, 59)).to_string(), "1401/04/10");
        assert_eq!(tehran_date(utc(2022, 7, 1, 19, 30, 0)).to_string(), "1401/04/11");
        // The hour repeated when the clocks went back stays on 30 Shahrivar.
        assert_eq!(tehran_date(utc(2022, 9, 21, 19, 45, 0)).to_string(), "1401/06/30");
        assert_eq!(tehran_date(utc(2022, 9, 21, 20, 30, 0)).to_string(), "1401/06/31");
    }

    #[test]
    fn no_summer_time_in_1385_and_1386() {
        assert_eq!(tehran_offset(noon(2006, 7, 1)), STANDARD);
        assert_eq!(tehran_offset(noon(2007, 7, 1)), STANDARD);
        assert_eq!(tehran_offset(noon(2008, 7, 1)), SUMMER);
        assert_eq!(tehran_offset(noon(2005, 7, 1)), SUMMER);
        assert_eq!(tehran_offset(noon(2008, 12, 1)), STANDARD);
    }

    #[test]
    fn leap_years_have_an_esfand_30() {
        let leap = [1395, 1399, 1403, 1408, 1412, 1416, 1420, 1424];
        for year in 1395..=1425 {
            assert_eq!(is_leap_year(year), leap.contains(&year), "{year}");
            // The same answer through the conversion path: the day before 1 Farvardin of the
            // next year is Esfand 30 exactly in a leap year.
            let nowruz = unix_day_of(year + 1, 1, 1).unwrap();
            // 22:30 in Tehran on the last evening of the year.
            let eve = OffsetDateTime::from_unix_timestamp(nowruz * SECONDS_PER_DAY - STANDARD_SECONDS - 3_600).unwrap();
            let last_day = tehran_date(eve);
            assert_eq!((last_day.year(), last_day.month()), (year, 12));
            assert_eq!(last_day.day(), if leap.contains(&year) { 30 } else { 29 }, "{year}");
        }
    }

    #[test]
    fn only_real_days_exist() {
        assert!(SolarDate::new(1404, 1, 31).is_some());
        assert!(SolarDate::new(1404, 7, 31).is_none());
        assert!(SolarDate::new(1404, 12, 30).is_none());
        assert!(SolarDate::new(1403, 12, 30).is_some());
        assert!(SolarDate::new(1404, 13, 1).is_none());
        assert!(SolarDate::new(1404, 0, 1).is_none());
        assert!(SolarDate::new(1404, 1, 0).is_none());
    }

    #[test]
    fn formats() {
        let date = SolarDate::new(1404, 1, 1).unwrap();
        assert_eq!(date.to_string(), "1404/01/01");
        assert_eq!(date.persian(), "۱۴۰۴/۰۱/۰۱");
        assert_eq!(date.long_persian(), "۱ فروردین ۱۴۰۴");
        let date = SolarDate::new(1403, 12, 30).unwrap();
        assert_eq!(date.to_string(), "1403/12/30");
        assert_eq!(date.persian(), "۱۴۰۳/۱۲/۳۰");
        assert_eq!(date.long_persian(), "۳۰ اسفند ۱۴۰۳");
    }

    #[test]
    fn gregorian_equivalents() {
        let nowruz = SolarDate::new(1404, 1, 1).unwrap().gregorian().unwrap();
        assert_eq!(nowruz, time::Date::from_calendar_date(2025, time::Month::March, 21).unwrap());
        let autumn = SolarDate::new(1405, 9, 4).unwrap().gregorian().unwrap();
        assert_eq!(tehran_date(autumn.with_hms(12, 0, 0).unwrap().assume_utc()), SolarDate::new(1405, 9, 4).unwrap());
    }

    #[test]
    fn every_month_has_its_name() {
        let names: Vec<&str> = (1..=12).map(|m| SolarDate::new(1404, m, 1).unwrap().month_name()).collect();
        assert_eq!(
            names,
            ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"]
        );
    }

    fn next_day(date: SolarDate) -> SolarDate {
        SolarDate::new(date.year(), date.month(), date.day() + 1)
            .or_else(|| SolarDate::new(date.year(), date.month() + 1, 1))
            .unwrap_or_else(|| SolarDate::new(date.year() + 1, 1, 1).unwrap())
    }

    proptest! {
        #[test]
        fn consecutive_days_are_consecutive_solar_dates(
            // 1900 to 2200, at any second of the day.
            day in -25_567i64..84_000,
            second in 0i64..SECONDS_PER_DAY,
        ) {
            let at = OffsetDateTime::from_unix_timestamp(day * SECONDS_PER_DAY + second).unwrap();
            let later = at + time::Duration::days(1);
            // Across a change of offset 24 hours may land on the same or the second next day;
            // whole days in Tehran's local time never do.
            if tehran_offset(at) == tehran_offset(later) {
                prop_assert_eq!(tehran_date(later), next_day(tehran_date(at)));
            }
        }

        #[test]
        fn noons_of_consecutive_days_are_consecutive_solar_dates(day in -25_567i64..84_000) {
            // Noon UTC is afternoon in Tehran under either offset, so it names the UTC day's date.
            let at = OffsetDateTime::from_unix_timestamp(day * SECONDS_PER_DAY + 12 * 3_600).unwrap();
            let next = OffsetDateTime::from_unix_timestamp((day + 1) * SECONDS_PER_DAY + 12 * 3_600).unwrap();
            prop_assert_eq!(tehran_date(next), next_day(tehran_date(at)));
        }

        #[test]
        fn tehran_dates_never_go_backwards(a in -2_208_988_800i64..7_258_118_400, step in 0i64..200_000) {
            let first = tehran_date(OffsetDateTime::from_unix_timestamp(a).unwrap());
            let second = tehran_date(OffsetDateTime::from_unix_timestamp(a + step).unwrap());
            prop_assert!(first <= second);
        }

        #[test]
        fn displayed_dates_are_zero_padded_ascii(day in 0i64..30_000) {
            let shown = tehran_date(OffsetDateTime::from_unix_timestamp(day * SECONDS_PER_DAY).unwrap()).to_string();
            prop_assert_eq!(shown.len(), 10);
            let well_formed = shown.chars().enumerate().all(|(i, c)| if i == 4 || i == 7 { c == '/' } else { c.is_ascii_digit() });
            prop_assert!(well_formed, "{}", shown);
        }
    }
}

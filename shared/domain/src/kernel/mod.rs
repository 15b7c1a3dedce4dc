//! What every context shares: ids, money, text, problems and forms, Persian numbers, words and
//! dates, the domain events with their envelope, and relaying them from the outbox.

pub mod clock;
pub mod events;
pub mod failures;
pub mod form;
pub mod ids;
pub mod money;
pub mod newtype;
pub mod paging;
pub mod persian_format;
pub mod persian_words;
pub mod ports;
pub mod problem;
pub mod relay;
pub mod solar_hijri;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;

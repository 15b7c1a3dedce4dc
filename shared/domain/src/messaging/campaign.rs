//! How a campaign goes out: through the accounts table page by page, one invocation per page,
//! each page handing the next one on through a queue; at a pace the email and SMS providers
//! accept.
//!
//! One invocation could not send to every customer within Lambda's time limit, and an
//! interrupted loop would start again from the first customer. A page is small enough to finish
//! well within the limit at the configured pace, and a failed page is retried alone. Pages are
//! handed on one after another, never in parallel, so the pace of one page is the pace of the
//! campaign.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use crate::accounts::consent::Channel;
use crate::kernel::events::Envelope;

/// The most accounts one page reads: a scan page's own natural size.
const MAX_PAGE: u32 = 100;
/// How long a page's pacing may take: a third of the notification function's timeout (60 s in
/// infra/template.yaml). The rest is for the calls themselves: per account a consistent read,
/// and per message a claim, the send and its mark (and the SMS opt-out check), which slow
/// providers stretch.
const PAGE_SENDING_SECONDS: u32 = 20;

/// Where a page starts in the accounts table: the last key the previous page read. Opaque to
/// everyone but the accounts table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AudienceCursor(String);

impl AudienceCursor {
    /// Only the accounts table makes cursors, from the key it stopped at.
    pub fn from_key(key: String) -> Self {
        Self(key)
    }

    pub fn key(&self) -> &str {
        &self.0
    }
}

/// One page of a campaign, as it travels through the campaign-pages queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignPage {
    /// The `CampaignPublished` event: its id makes every send of the campaign once-only.
    pub campaign: Envelope,
    /// 1 for the first page.
    pub number: u32,
    /// `None` for the first page.
    pub start: Option<AudienceCursor>,
}

impl CampaignPage {
    pub fn first(campaign: Envelope) -> Self {
        Self { campaign, number: 1, start: None }
    }

    pub fn next(&self, start: AudienceCursor) -> Self {
        Self { campaign: self.campaign.clone(), number: self.number + 1, start: Some(start) }
    }

    /// What the hand-off of this page is recorded under, once per campaign: a page run twice
    /// (a redelivered message, a retry after a crash) hands its successor on only once, so a
    /// campaign never runs as two chains at twice the pace.
    pub fn hand_on_key(&self) -> String {
        format!("page#{}", self.number)
    }
}

/// How many accounts a page reads so that its sends fit in `PAGE_SENDING_SECONDS` at the pace of
/// the slower channel (every account read may be sent one message per channel).
fn page_size(slowest: SendsPerSecond) -> u32 {
    slowest.0.get().saturating_mul(PAGE_SENDING_SECONDS).min(MAX_PAGE)
}

/// A provider's send rate for campaigns: SES's account sending rate, SNS's SMS rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SendsPerSecond(NonZeroU32);

impl SendsPerSecond {
    /// From configuration: a whole number of sends per second, at least 1.
    pub fn parse(text: &str) -> Option<Self> {
        text.trim().parse::<NonZeroU32>().ok().map(Self)
    }
}

/// The campaign send rates of both channels, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct CampaignRates {
    pub email: SendsPerSecond,
    pub sms: SendsPerSecond,
}

impl CampaignRates {
    /// How many accounts a page reads: its sends fit in the time a page may take at the slower
    /// channel's pace.
    pub fn page_size(&self) -> u32 {
        page_size(self.email.min(self.sms))
    }

    /// A fresh pace for one page. Pages run one after another, so pacing each page paces the
    /// campaign.
    pub fn pace(&self) -> CampaignPace {
        CampaignPace { email: Pace::new(self.email), sms: Pace::new(self.sms) }
    }
}

/// Each channel at its own provider's rate.
#[derive(Debug)]
pub struct CampaignPace {
    email: Pace,
    sms: Pace,
}

impl CampaignPace {
    pub async fn wait_turn(&mut self, channel: Channel) {
        match channel {
            Channel::Email => self.email.wait_turn().await,
            Channel::Sms => self.sms.wait_turn().await,
        }
    }
}

/// Spaces one channel's sends evenly at its rate. Even spacing rather than bursts of a second's
/// worth: providers measure their rate over short windows.
#[derive(Debug)]
struct Pace {
    gap: std::time::Duration,
    next: Option<tokio::time::Instant>,
}

impl Pace {
    fn new(rate: SendsPerSecond) -> Self {
        Self { gap: std::time::Duration::from_secs(1) / rate.0.get(), next: None }
    }

    /// Waits until the next send may go; the first one goes at once.
    async fn wait_turn(&mut self) {
        let now = tokio::time::Instant::now();
        let turn = self.next.map_or(now, |next| next.max(now));
        tokio::time::sleep_until(turn).await;
        self.next = Some(turn + self.gap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::events::DomainEvent;

    fn rate(per_second: u32) -> SendsPerSecond {
        SendsPerSecond::parse(&per_second.to_string()).expect("a positive rate")
    }

    #[tokio::test(start_paused = true)]
    async fn a_pace_of_ten_per_second_spaces_sends_a_tenth_of_a_second_apart() {
        let mut pace = Pace::new(rate(10));
        let start = tokio::time::Instant::now();
        for _ in 0..21 {
            pace.wait_turn().await;
        }
        // The first send at once, the 21st after twenty gaps.
        assert_eq!(start.elapsed(), std::time::Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn time_spent_sending_counts_towards_the_gap() {
        let mut pace = Pace::new(rate(2));
        pace.wait_turn().await;
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        let before = tokio::time::Instant::now();
        pace.wait_turn().await;
        assert!(before.elapsed() <= std::time::Duration::from_millis(1), "the gap had passed: no wait");
    }

    #[test]
    fn a_page_fits_its_sends_in_the_time_a_page_may_take() {
        assert_eq!(page_size(rate(1)), 20);
        assert_eq!(page_size(rate(2)), 40);
        assert_eq!(page_size(rate(5)), 100, "the default rate: a full scan page");
        assert_eq!(page_size(rate(u32::MAX)), 100);
    }

    #[test]
    fn rates_come_from_configuration_as_positive_whole_numbers() {
        assert_eq!(SendsPerSecond::parse(" 14 "), Some(rate(14)));
        for bad in ["0", "-1", "1.5", "", "ten"] {
            assert_eq!(SendsPerSecond::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pages_follow_each_other_with_keys_of_their_own() {
        let campaign = Envelope::new(
            DomainEvent::CampaignPublished { campaign_id: uuid::Uuid::nil(), subject: "s".into(), text: "t".into() },
            time::OffsetDateTime::UNIX_EPOCH,
        );
        let first = CampaignPage::first(campaign);
        let second = first.next(AudienceCursor("ACCOUNT#x".into()));
        assert_eq!((first.number, second.number), (1, 2));
        assert_ne!(first.hand_on_key(), second.hand_on_key());
        let travelled: CampaignPage =
            serde_json::from_str(&serde_json::to_string(&second).expect("serialises")).expect("reads back");
        assert_eq!(travelled, second);
    }
}

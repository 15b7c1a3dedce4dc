//! What each domain event sends, and to whom: the one place that decides (P6, P9).
//!
//! A customer's official contacts are the ones they proved (P9): an unverified email or phone
//! receives nothing but its own verification message.

use crate::accounts::account::Contacts;
use crate::accounts::consent::Channel;
use crate::accounts::contact::{Email, IranMobile};
use crate::accounts::verification::ContactKind;
use crate::kernel::events::DomainEvent;
use crate::kernel::ids::OrderId;
use crate::kernel::money::Rial;
use crate::ordering::lifecycle::{Carrier, TrackingCode};

/// A message to send, before rendering. `InvoiceIssued` says the order's official invoice is
/// ready, with a link to it.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    EmailVerification {
        token: String,
    },
    PhoneVerification {
        code: String,
    },
    ExistingAccountNotice,
    /// The link that sets a new password, to the proven email alone.
    PasswordReset {
        token: String,
    },
    /// The proof of an email the customer asked to change to, sent to that email.
    NewEmailProof {
        token: String,
        to: Email,
    },
    /// The code of a number the customer asked to change to, sent to that number.
    NewPhoneProof {
        code: String,
        to: IranMobile,
    },
    /// To the contact being replaced: a change was asked for; until the new one is proven,
    /// messages still come here.
    ContactChangeNotice {
        contact: ContactKind,
    },
    /// The password was set anew and every other session ended.
    PasswordChangedNotice,
    /// What happened to an order: sent to each proven contact.
    Order {
        order_id: OrderId,
        news: OrderNews,
        channel: Channel,
    },
    /// Marketing: carries an unsubscribe link (and, by email, the RFC 8058 headers).
    Campaign {
        subject: String,
        text: String,
        channel: Channel,
    },
    InvoiceIssued {
        order_id: OrderId,
    },
}

/// The moments of an order its customer hears of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderNews {
    /// Placed: the total, and a reminder to pay.
    Placed {
        total: Rial,
    },
    /// The receipt: what was paid and the gateway's reference.
    Paid {
        amount: Rial,
        ref_id: Option<String>,
    },
    /// Not paid in time: cancelled.
    Expired,
    /// Paid when the order could no longer take it: the money goes back.
    PaymentReturned {
        amount: Rial,
        reversed: bool,
    },
    /// The parcel left: with whom, and how to follow it.
    Shipped {
        carrier: Carrier,
        tracking_code: TrackingCode,
    },
    Delivered,
    /// Cancelled before it shipped, by the customer or by the store; a paid order's `refund`
    /// follows.
    Cancelled {
        by_customer: bool,
        refund: Option<Rial>,
    },
    /// A cancelled order's money went back through the gateway, under its reference.
    Refunded {
        amount: Rial,
        reference: Option<String>,
    },
}

impl Message {
    pub fn channel(&self) -> Channel {
        match self {
            Self::EmailVerification { .. }
            | Self::ExistingAccountNotice
            | Self::PasswordReset { .. }
            | Self::NewEmailProof { .. }
            | Self::PasswordChangedNotice
            | Self::ContactChangeNotice { contact: ContactKind::Email }
            | Self::InvoiceIssued { .. } => Channel::Email,
            Self::PhoneVerification { .. }
            | Self::NewPhoneProof { .. }
            | Self::ContactChangeNotice { contact: ContactKind::Phone } => Channel::Sms,
            Self::Order { channel, .. } | Self::Campaign { channel, .. } => *channel,
        }
    }
}

impl Message {
    /// What the send log claims the message under, beside its event and account: its channel,
    /// set apart when it goes to a contact not yet proven — one event may send to both the old
    /// email and the new.
    pub fn slot(&self) -> &'static str {
        match self {
            Self::NewEmailProof { .. } => "email-new",
            Self::NewPhoneProof { .. } => "sms-new",
            _ => self.channel().as_str(),
        }
    }
}

pub fn messages_for(event: &DomainEvent, contacts: &Contacts) -> Vec<Message> {
    match event {
        // Once proven, a contact needs no more proof: a late or redelivered request sends nothing.
        DomainEvent::EmailVerificationRequested { token, .. } if !contacts.email_verified => {
            vec![Message::EmailVerification { token: token.clone() }]
        }
        DomainEvent::PhoneVerificationRequested { code, .. } if !contacts.phone_verified => {
            vec![Message::PhoneVerification { code: code.clone() }]
        }
        // The proof goes to the new contact while it waits (a change completed or replaced sends
        // nothing more); the contact it would replace hears of it if proven (P9).
        DomainEvent::EmailChangeRequested { token, .. } => match &contacts.pending_email {
            Some(new) => {
                let proof = Message::NewEmailProof { token: token.clone(), to: new.clone() };
                change_messages(proof, ContactKind::Email, contacts.email_verified)
            }
            None => Vec::new(),
        },
        DomainEvent::PhoneChangeRequested { code, .. } => match &contacts.pending_phone {
            Some(new) => {
                let proof = Message::NewPhoneProof { code: code.clone(), to: new.clone() };
                change_messages(proof, ContactKind::Phone, contacts.phone_verified)
            }
            None => Vec::new(),
        },
        DomainEvent::PasswordChanged { .. } if contacts.email_verified => vec![Message::PasswordChangedNotice],
        DomainEvent::SignupAttemptedOnExistingAccount { .. } if contacts.email_verified => {
            vec![Message::ExistingAccountNotice]
        }
        // A reset link opens the account: to the proven email only (P9, P12), never by SMS.
        DomainEvent::PasswordResetRequested { token, .. } if contacts.email_verified => {
            vec![Message::PasswordReset { token: token.clone() }]
        }
        // Transactional: no marketing consent needed, but only to proven contacts (P9) — never
        // to the order's recipient, who is known for the delivery alone (P15).
        DomainEvent::OrderPlaced { order_id, total, .. } => {
            order_news(contacts, *order_id, OrderNews::Placed { total: *total })
        }
        DomainEvent::OrderPaid { order_id, amount, ref_id, .. } => {
            order_news(contacts, *order_id, OrderNews::Paid { amount: *amount, ref_id: ref_id.clone() })
        }
        DomainEvent::OrderExpired { order_id, .. } => order_news(contacts, *order_id, OrderNews::Expired),
        DomainEvent::PaymentReturned { order_id, amount, reversed, .. } => {
            order_news(contacts, *order_id, OrderNews::PaymentReturned { amount: *amount, reversed: *reversed })
        }
        DomainEvent::OrderShipped { order_id, carrier, tracking_code, .. } => order_news(
            contacts,
            *order_id,
            OrderNews::Shipped { carrier: *carrier, tracking_code: tracking_code.clone() },
        ),
        DomainEvent::OrderDelivered { order_id, .. } => order_news(contacts, *order_id, OrderNews::Delivered),
        DomainEvent::OrderCancelled { order_id, by_customer, refund, .. } => {
            order_news(contacts, *order_id, OrderNews::Cancelled { by_customer: *by_customer, refund: *refund })
        }
        DomainEvent::PaymentRefunded { order_id, amount, reference, .. } => {
            order_news(contacts, *order_id, OrderNews::Refunded { amount: *amount, reference: reference.clone() })
        }
        // The invoice is a document to keep: by email only, to the proven email only (P8, P9);
        // never by SMS, and never to the order's recipient (P15).
        DomainEvent::InvoiceIssued { order_id, .. } if contacts.email_verified => {
            vec![Message::InvoiceIssued { order_id: *order_id }]
        }
        // Marketing (P6, P7): a verified contact whose consent for that channel is on now.
        DomainEvent::CampaignPublished { subject, text, .. } => [
            (Channel::Email, contacts.email_verified && contacts.marketing.email),
            (Channel::Sms, contacts.phone_verified && contacts.marketing.sms),
        ]
        .into_iter()
        .filter(|(_, allowed)| *allowed)
        .map(|(channel, _)| Message::Campaign { subject: subject.clone(), text: text.clone(), channel })
        .collect(),
        _ => Vec::new(),
    }
}

/// A change's proof to the new contact, and its notice to the old one if that one was proven.
fn change_messages(proof: Message, contact: ContactKind, old_proven: bool) -> Vec<Message> {
    let notice = old_proven.then_some(Message::ContactChangeNotice { contact });
    std::iter::once(proof).chain(notice).collect()
}

/// The news of an order, on every contact the customer proved.
fn order_news(contacts: &Contacts, order_id: OrderId, news: OrderNews) -> Vec<Message> {
    [(Channel::Email, contacts.email_verified), (Channel::Sms, contacts.phone_verified)]
        .into_iter()
        .filter(|(_, verified)| *verified)
        .map(|(channel, _)| Message::Order { order_id, news: news.clone(), channel })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::account::MarketingConsent;
    use crate::accounts::person::FullName;
    use crate::kernel::ids::AccountId;

    fn contacts(email_verified: bool, phone_verified: bool) -> Contacts {
        Contacts {
            id: AccountId::new(),
            full_name: FullName::parse("مریم کاظمی").unwrap(),
            email: Email::parse("maryam@example.com").unwrap(),
            email_verified,
            phone: IranMobile::parse("09121234567").unwrap(),
            phone_verified,
            marketing: MarketingConsent::default(),
            pending_email: None,
            pending_phone: None,
        }
    }

    #[test]
    fn p9_verification_messages_go_to_unverified_contacts_only() {
        let email = DomainEvent::EmailVerificationRequested { account_id: AccountId::new(), token: "t".into() };
        let sms = DomainEvent::PhoneVerificationRequested { account_id: AccountId::new(), code: "123456".into() };
        assert_eq!(
            messages_for(&email, &contacts(false, false)),
            vec![Message::EmailVerification { token: "t".into() }]
        );
        assert_eq!(
            messages_for(&sms, &contacts(false, false)),
            vec![Message::PhoneVerification { code: "123456".into() }]
        );
        assert!(messages_for(&email, &contacts(true, false)).is_empty());
        assert!(messages_for(&sms, &contacts(false, true)).is_empty());
    }

    #[test]
    fn p9_p12_a_reset_link_goes_to_the_proven_email_only() {
        let reset = DomainEvent::PasswordResetRequested { account_id: AccountId::new(), token: "r".into() };
        assert_eq!(messages_for(&reset, &contacts(true, true)), vec![Message::PasswordReset { token: "r".into() }]);
        assert!(messages_for(&reset, &contacts(false, true)).is_empty());
    }

    #[test]
    fn p9_a_change_proves_the_new_contact_and_tells_the_old_one_if_proven() {
        let account_id = AccountId::new();
        let new_email = Email::parse("maryam.k@example.org").unwrap();
        let new_phone = IranMobile::parse("09351112233").unwrap();
        let email_change = DomainEvent::EmailChangeRequested { account_id, token: "t".into() };
        let phone_change = DomainEvent::PhoneChangeRequested { account_id, code: "123456".into() };
        let mut waiting = contacts(true, false);
        (waiting.pending_email, waiting.pending_phone) = (Some(new_email.clone()), Some(new_phone.clone()));
        let email_messages = messages_for(&email_change, &waiting);
        assert_eq!(
            email_messages,
            vec![
                Message::NewEmailProof { token: "t".into(), to: new_email },
                Message::ContactChangeNotice { contact: ContactKind::Email }
            ]
        );
        assert_eq!(email_messages.iter().map(Message::slot).collect::<Vec<_>>(), ["email-new", "email"]);
        assert_eq!(
            messages_for(&phone_change, &waiting),
            vec![Message::NewPhoneProof { code: "123456".into(), to: new_phone }],
            "an unproven number is not told"
        );
        assert!(messages_for(&email_change, &contacts(true, true)).is_empty(), "nothing waits: nothing is sent");
        assert!(messages_for(&phone_change, &contacts(true, true)).is_empty());
    }

    #[test]
    fn p12_a_new_password_is_told_to_the_proven_email() {
        let changed = DomainEvent::PasswordChanged { account_id: AccountId::new() };
        assert_eq!(messages_for(&changed, &contacts(true, false)), vec![Message::PasswordChangedNotice]);
        assert!(messages_for(&changed, &contacts(false, true)).is_empty());
    }

    #[test]
    fn p9_an_unverified_email_gets_no_notice_of_signup_attempts() {
        let attempt = DomainEvent::SignupAttemptedOnExistingAccount { account_id: AccountId::new() };
        assert!(messages_for(&attempt, &contacts(false, true)).is_empty());
        assert_eq!(messages_for(&attempt, &contacts(true, false)), vec![Message::ExistingAccountNotice]);
    }

    #[test]
    fn p9_an_orders_news_goes_to_each_verified_contact_only() {
        let (order_id, account_id) = (OrderId::for_checkout(AccountId::new(), "k"), AccountId::new());
        let paid_at = time::OffsetDateTime::UNIX_EPOCH;
        let payment_id = crate::kernel::ids::PaymentId::new();
        let events = [
            DomainEvent::OrderPlaced { order_id, account_id, total: Rial::new(1_000) },
            DomainEvent::OrderPaid {
                order_id,
                account_id,
                payment_id,
                amount: Rial::new(1_000),
                paid_at,
                ref_id: None,
            },
            DomainEvent::OrderExpired { order_id, account_id },
            DomainEvent::PaymentReturned { order_id, account_id, payment_id, amount: Rial::new(1_000), reversed: true },
            DomainEvent::OrderShipped {
                order_id,
                account_id,
                carrier: Carrier::Tipax,
                tracking_code: TrackingCode::parse("TPX-1234").unwrap(),
            },
            DomainEvent::OrderDelivered { order_id, account_id },
            DomainEvent::OrderCancelled {
                order_id,
                account_id,
                by_customer: true,
                payment_id: Some(payment_id),
                refund: Some(Rial::new(1_000)),
            },
            DomainEvent::PaymentRefunded {
                order_id,
                account_id,
                payment_id,
                amount: Rial::new(1_000),
                reference: Some("R1".into()),
            },
        ];
        for event in &events {
            let channels = |c: &Contacts| messages_for(event, c).iter().map(Message::channel).collect::<Vec<_>>();
            assert_eq!(channels(&contacts(true, true)), [Channel::Email, Channel::Sms], "{event:?}");
            assert_eq!(channels(&contacts(true, false)), [Channel::Email]);
            assert_eq!(channels(&contacts(false, true)), [Channel::Sms]);
            assert!(channels(&contacts(false, false)).is_empty());
        }
    }

    #[test]
    fn staff_steps_the_customer_does_not_wait_for_send_nothing() {
        let packed = DomainEvent::OrderPacked {
            order_id: OrderId::for_checkout(AccountId::new(), "k"),
            account_id: AccountId::new(),
        };
        assert!(messages_for(&packed, &contacts(true, true)).is_empty());
    }

    #[test]
    fn p8_p9_the_invoice_is_emailed_to_a_verified_email_only() {
        let order_id = OrderId::for_checkout(AccountId::new(), "k");
        let issued = DomainEvent::InvoiceIssued { order_id, account_id: AccountId::new() };
        for phone_verified in [true, false] {
            assert_eq!(
                messages_for(&issued, &contacts(true, phone_verified)),
                vec![Message::InvoiceIssued { order_id }]
            );
            assert!(messages_for(&issued, &contacts(false, phone_verified)).is_empty(), "unverified email");
        }
        assert_eq!(Message::InvoiceIssued { order_id }.channel(), Channel::Email, "never by SMS");
    }

    #[test]
    fn p6_p7_p9_a_campaign_goes_to_verified_contacts_that_consent_only() {
        let campaign =
            DomainEvent::CampaignPublished { campaign_id: uuid::Uuid::nil(), subject: "s".into(), text: "t".into() };
        let with = |email_verified, phone_verified, email, sms| {
            let mut c = contacts(email_verified, phone_verified);
            c.marketing = crate::accounts::account::MarketingConsent { email, sms };
            messages_for(&campaign, &c).iter().map(Message::channel).collect::<Vec<_>>()
        };
        assert_eq!(with(true, true, true, true), [Channel::Email, Channel::Sms]);
        assert_eq!(with(true, true, false, true), [Channel::Sms]);
        assert_eq!(with(false, true, true, false), Vec::<Channel>::new(), "an unverified email gets no marketing");
        assert_eq!(with(true, false, true, true), [Channel::Email], "nor an unverified phone");
    }

    #[test]
    fn each_message_has_its_channel() {
        assert_eq!(Message::ExistingAccountNotice.channel(), Channel::Email);
        assert_eq!(Message::PhoneVerification { code: String::new() }.channel(), Channel::Sms);
    }
}

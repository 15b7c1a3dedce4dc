//! How long every kind of stored item is kept, and why (P14, P15): the register that the
//! retention walk (`tests/walk_retention.rs`) holds every item of every table against, and that
//! README's personal-data table states in words.
//!
//! An item that holds personal data is either deleted by DynamoDB's TTL (its table's TTL
//! attribute is set) or kept for a documented reason. An item of a kind this register does not
//! know is itself a finding: new data needs a stated purpose and period before it is stored (P1).

/// Why an item kind may stay, or how it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Deleted by the table's TTL attribute after `period`; every such item must carry it.
    ByTtl { period: &'static str },
    /// Kept without TTL, for this reason (and until this event).
    Documented(&'static str),
    /// Holds no personal data: kept as long as the store needs it.
    NoPersonalData,
}

/// One kind of item: the table (its logical id in `infra/template.yaml`) and a pattern over the
/// partition key and, for tables with one, the sort key. `*` stands for one or more characters
/// that contain no `#`; `**`, at the end only, for the rest of the key, `#` and all (an
/// `Idempotency-Key` chosen by the client may contain one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemKind {
    pub table: &'static str,
    pub key: &'static str,
    pub sort_key: Option<&'static str>,
    pub kept: Kept,
}

const fn kind(table: &'static str, key: &'static str, sort_key: Option<&'static str>, kept: Kept) -> ItemKind {
    ItemKind { table, key, sort_key, kept }
}

const TAX_LAW: &str = "tax law: the official invoice and the order it was issued for, with the buyer's identity, \
                       are kept for as long as the store's books must be (P8)";

pub const REGISTER: &[ItemKind] = &[
    kind(
        "AccountsTable",
        "ACCOUNT#*",
        None,
        Kept::Documented(
            "the account itself (contacts, password hash, terms acceptance with its IP, consent and its history): \
             while the account is open; erased when it is closed (POST /me/closure), or by TTL 24 hours after \
             signup if its email was never verified",
        ),
    ),
    kind(
        "AccountsTable",
        "EMAIL#*",
        None,
        Kept::Documented(
            "the guard that makes an email one account's: while that account is open; deleted at closure, or with \
             its account by TTL if the email was never verified",
        ),
    ),
    kind(
        "AccountsTable",
        "LIMIT#*#*#*",
        None,
        Kept::ByTtl { period: "one to two windows of its abuse limit (15 minutes to a day)" },
    ),
    kind(
        "AccountsTable",
        "CLOSED#*",
        None,
        Kept::Documented(
            "a closed account: when it closed, and the keyed hashes of its last email and phone, so that a legal \
             request by either still finds its orders and reviews (P3): kept like them",
        ),
    ),
    kind("DeliveriesTable", "DELIVERY#*#*", None, Kept::ByTtl { period: "30 days (redelivery of events)" }),
    kind("DeliveriesTable", "DELIVERY#*#*#*", None, Kept::ByTtl { period: "30 days (redelivery of events)" }),
    kind("ProductsTable", "PRODUCT#*", None, Kept::NoPersonalData),
    kind("OrdersTable", "ORDER#*", None, Kept::Documented(TAX_LAW)),
    kind(
        "OrdersTable",
        "ORDER#*#RECIPIENT",
        None,
        Kept::ByTtl { period: "90 days after the order (its delivery, P15)" },
    ),
    kind("IdempotencyTable", "checkout#*#**", None, Kept::ByTtl { period: "24 hours (a checkout's retries)" }),
    kind("InvoicesTable", "COUNTER#invoice", None, Kept::NoPersonalData),
    kind(
        "OutboxTable",
        "*",
        None,
        Kept::ByTtl { period: "15 days (the relay's stream and its failure queue, for redriving)" },
    ),
    kind(
        "OutboxTable",
        "operator#*",
        None,
        Kept::ByTtl { period: "15 days (an operator's campaign, redriven like any event)" },
    ),
    kind("InvoicesTable", "INVOICE#*", None, Kept::Documented(TAX_LAW)),
    // The return invoice of a cancelled sale: a tax record like the invoice it undoes.
    kind("InvoicesTable", "INVOICE#*#CORRECTION", None, Kept::Documented(TAX_LAW)),
    kind("InvoicesTable", "INVOICE#*#RETURN", None, Kept::Documented(TAX_LAW)),
    kind("InvoicesTable", "CERTIFICATE#*", None, Kept::Documented(TAX_LAW)),
    // A payment is the record of money taken (amount, the gateway's reference, a masked card
    // number, never a whole one): kept with the order and invoice it pays.
    kind("PaymentsTable", "PAYMENT#*", None, Kept::Documented(TAX_LAW)),
    kind(
        "ReviewsTable",
        "REVIEW#*",
        Some("CURRENT"),
        Kept::Documented(
            "a published or hidden review, linked to its author's account for legal follow-up (P10, P11): while \
             the review exists; at closure its name becomes anonymous",
        ),
    ),
    kind(
        "ReviewsTable",
        "REVIEW#*",
        Some("V#*"),
        Kept::Documented(
            "every version of a review with who, when and from which IP (P10, P11): while the review exists",
        ),
    ),
    kind(
        "ReviewsTable",
        "AUTHOR#*",
        Some("PRODUCT#*"),
        Kept::Documented(
            "which review is a customer's of a product (ids and nothing else), so that posting again replaces it: \
             while the review exists",
        ),
    ),
    kind("ReviewsTable", "PRODUCT#*", Some("STATS"), Kept::NoPersonalData),
    kind("ReviewsTable", "RATE#*", Some("*"), Kept::ByTtl { period: "2 hours (the hourly limit)" }),
    kind("IpRecordsTable", "ACCOUNT#*", Some("*#*"), Kept::ByTtl { period: "six months (P14)" }),
    kind(
        "AuditTable",
        "AUDIT#*",
        Some("*#*"),
        Kept::Documented(
            "the trail of every legal disclosure and refused attempt (P3): never changed or deleted, so that \
             every disclosure can be accounted for; the subject only as a keyed hash and a masked form",
        ),
    ),
];

/// The kind of an item, by its keys: the most specific pattern that matches.
pub fn kind_of(table: &str, key: &str, sort_key: Option<&str>) -> Option<&'static ItemKind> {
    REGISTER
        .iter()
        .filter(|kind| kind.table == table && matches(kind.key, key))
        .filter(|kind| match (kind.sort_key, sort_key) {
            (None, None) => true,
            (Some(pattern), Some(value)) => matches(pattern, value),
            _ => false,
        })
        .max_by_key(|kind| kind.key.len() + kind.sort_key.map_or(0, str::len))
}

/// What the walk finds wrong with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// No kind of the register has this key: data without a stated purpose or period.
    UnknownKind,
    /// A kind that TTL must delete, without the TTL attribute.
    MissingTtl,
}

/// Judges one item: its table, keys, and whether it carries its table's TTL attribute.
pub fn judge(table: &str, key: &str, sort_key: Option<&str>, has_ttl: bool) -> Option<Finding> {
    match kind_of(table, key, sort_key) {
        None => Some(Finding::UnknownKind),
        Some(ItemKind { kept: Kept::ByTtl { .. }, .. }) if !has_ttl => Some(Finding::MissingTtl),
        Some(_) => None,
    }
}

/// `*` matches one or more characters other than `#`, a final `**` the non-empty rest;
/// everything else matches itself.
fn matches(pattern: &str, value: &str) -> bool {
    if let Some(literal) = pattern.strip_suffix("**").filter(|literal| !literal.contains('*')) {
        return value.strip_prefix(literal).is_some_and(|rest| !rest.is_empty());
    }
    match pattern.split_once('*') {
        None => pattern == value,
        Some((literal, rest)) => {
            let Some(value) = value.strip_prefix(literal) else { return false };
            let segment = value.find('#').unwrap_or(value.len());
            // The wildcard takes a non-empty run without `#`: try every length of it.
            (1..=segment).any(|taken| matches(rest, &value[taken..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orders_recipient_is_its_own_kind_and_expires() {
        let order = kind_of("OrdersTable", "ORDER#0b6c", None).expect("an order");
        assert!(matches!(order.kept, Kept::Documented(_)));
        let recipient = kind_of("OrdersTable", "ORDER#0b6c#RECIPIENT", None).expect("a recipient");
        assert!(matches!(recipient.kept, Kept::ByTtl { .. }));
    }

    #[test]
    fn p15_a_recipient_without_ttl_is_a_finding_and_with_it_is_not() {
        assert_eq!(judge("OrdersTable", "ORDER#1#RECIPIENT", None, false), Some(Finding::MissingTtl));
        assert_eq!(judge("OrdersTable", "ORDER#1#RECIPIENT", None, true), None);
        assert_eq!(judge("OrdersTable", "ORDER#1", None, false), None, "kept for the tax law");
    }

    #[test]
    fn unknown_kinds_are_findings_whatever_they_carry() {
        assert_eq!(judge("AccountsTable", "PHONE#09121112233", None, true), Some(Finding::UnknownKind));
        assert_eq!(judge("NoSuchTable", "ACCOUNT#1", None, false), Some(Finding::UnknownKind));
        assert_eq!(
            judge("ReviewsTable", "REVIEW#1", None, false),
            Some(Finding::UnknownKind),
            "reviews have sort keys"
        );
    }

    #[test]
    fn sort_keys_tell_a_review_from_its_versions() {
        let current = kind_of("ReviewsTable", "REVIEW#ab", Some("CURRENT")).expect("the review");
        let version = kind_of("ReviewsTable", "REVIEW#ab", Some("V#3")).expect("a version");
        assert_ne!(current, version);
        assert_eq!(judge("ReviewsTable", "RATE#acc", Some("2026112509"), false), Some(Finding::MissingTtl));
    }

    #[test]
    fn a_wildcard_takes_a_whole_segment_never_a_separator_or_nothing() {
        assert!(!matches("DELIVERY#*#*", "DELIVERY#e1#page#2"));
        assert!(matches("DELIVERY#*#*#*", "DELIVERY#e1#page#2"));
        assert!(matches("checkout#*#**", "checkout#acc#key"));
        assert!(matches("checkout#*#**", "checkout#acc#a#key#with#hashes"));
        assert!(!matches("checkout#*#**", "checkout#acc#"));
        assert!(!matches("ACCOUNT#*", "ACCOUNT#"));
        assert!(!matches("COUNTER#invoice", "COUNTER#invoices"));
    }
}

//! Whose data a legal request asks for (P3), and the forms it is written in: canonical for the
//! document and the audit's keyed hash, masked for an auditor's eye.

use crate::accounts::contact::{Email, IranMobile};
use crate::kernel::ids::AccountId;
use crate::ordering::identity::NationalCode;

/// Whose data is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Customer(AccountId),
    Email(Email),
    Phone(IranMobile),
    NationalCode(NationalCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    CustomerId,
    Email,
    Phone,
    NationalCode,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerId => "customer_id",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::NationalCode => "national_code",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::CustomerId, Self::Email, Self::Phone, Self::NationalCode].into_iter().find(|k| k.as_str() == text)
    }
}

impl Subject {
    pub fn kind(&self) -> SubjectKind {
        match self {
            Self::Customer(_) => SubjectKind::CustomerId,
            Self::Email(_) => SubjectKind::Email,
            Self::Phone(_) => SubjectKind::Phone,
            Self::NationalCode(_) => SubjectKind::NationalCode,
        }
    }

    /// The value in its canonical form: for the document (the authority named it) and for the
    /// keyed hash of the audit — never for a log.
    pub fn canonical(&self) -> String {
        match self {
            Self::Customer(id) => id.to_string(),
            Self::Email(email) => email.as_str().to_owned(),
            Self::Phone(phone) => phone.as_e164().to_owned(),
            Self::NationalCode(code) => code.as_str().to_owned(),
        }
    }

    /// A form that lets an auditor tell subjects apart at a glance without reading them: an
    /// account id is an opaque id already; the others keep a first or last character or two.
    pub fn masked(&self) -> String {
        let stars = |n: usize| "*".repeat(n);
        match self {
            Self::Customer(id) => id.to_string(),
            Self::Email(email) => {
                let first: String = email.local_part().chars().take(1).collect();
                let tld = email.domain().rsplit('.').next().unwrap_or_default();
                format!("{first}***@***.{tld}")
            }
            Self::Phone(phone) => {
                let e164 = phone.as_e164();
                format!("{}{}{}", &e164[..4], stars(e164.len() - 6), &e164[e164.len() - 2..])
            }
            Self::NationalCode(code) => format!("{}{}", stars(8), &code.as_str()[8..]),
        }
    }
}

impl std::fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

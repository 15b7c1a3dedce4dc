//! The request bodies of the signup function, parsed into domain types at the edge. Every
//! field is checked and every mistake reported at once, with its Persian message.

use mizan::accounts::account::{MarketingConsent, Signup, TermsVersion};
use mizan::accounts::contact::{Email, IranMobile};
use mizan::accounts::contact_change::NewContact;
use mizan::accounts::password::Password;
use mizan::accounts::person::FullName;
use mizan::kernel::problem::{FieldError, Problem, Rejection};
use mizan_aws::lambda::http::JsonObject;

pub fn signup(body: &JsonObject) -> Result<Signup, Problem> {
    let mut errors = Vec::new();
    let email = body.parsed("email", Email::parse, &mut errors);
    let phone = body.parsed("phone", IranMobile::parse, &mut errors);
    let full_name = body.parsed("full_name", FullName::parse, &mut errors);
    let raw_password = body.required_str("password", &mut errors);
    let password = raw_password.and_then(|raw| {
        Password::parse(raw, email.as_ref()).map_err(|rejection| errors.push(rejection.at("password"))).ok()
    });
    if body.required_bool("accept_terms", &mut errors) == Some(false) {
        errors.push(FieldError::new(
            "accept_terms",
            "terms-not-accepted",
            "برای عضویت باید قوانین و مقررات را بپذیرید.",
        ));
    }
    let terms_version = body.parsed("terms_version", TermsVersion::parse, &mut errors);
    let marketing = match body.optional_object("marketing", &mut errors) {
        Some(choice) => MarketingConsent {
            email: choice.optional_bool("email", &mut errors).unwrap_or(false),
            sms: choice.optional_bool("sms", &mut errors).unwrap_or(false),
        },
        None => MarketingConsent::default(),
    };

    match (email, phone, full_name, password, terms_version) {
        (Some(email), Some(phone), Some(full_name), Some(password), Some(terms_version)) if errors.is_empty() => {
            Ok(Signup { email, phone, full_name, password, terms_version, marketing })
        }
        _ => Err(Problem::invalid(errors)),
    }
}

pub struct EmailVerificationForm {
    pub token: String,
}

pub fn email_verification(body: &JsonObject) -> Result<EmailVerificationForm, Problem> {
    let mut errors = Vec::new();
    let token = body.required_str("token", &mut errors).map(str::to_owned);
    token.map(|token| EmailVerificationForm { token }).ok_or_else(|| Problem::invalid(errors))
}

pub struct PhoneVerificationForm {
    pub email: Email,
    pub code: String,
}

pub fn phone_verification(body: &JsonObject) -> Result<PhoneVerificationForm, Problem> {
    let mut errors = Vec::new();
    let email = body.parsed("email", Email::parse, &mut errors);
    let code = body.required_str("code", &mut errors).map(str::to_owned);
    match (email, code) {
        (Some(email), Some(code)) => Ok(PhoneVerificationForm { email, code }),
        _ => Err(Problem::invalid(errors)),
    }
}

/// Asking for a verification again, or for a new password: the account's email.
pub fn email_only(body: &JsonObject) -> Result<Email, Problem> {
    let mut errors = Vec::new();
    body.parsed("email", Email::parse, &mut errors)
        .filter(|_| errors.is_empty())
        .ok_or_else(|| Problem::invalid(errors))
}

/// Two fields that must both be present, as text; their content is judged by the use case.
fn two_texts(body: &JsonObject, first: &str, second: &str) -> Result<(String, String), Problem> {
    let mut errors = Vec::new();
    let one = body.required_str(first, &mut errors).map(str::to_owned);
    let other = body.required_str(second, &mut errors).map(str::to_owned);
    one.zip(other).ok_or_else(|| Problem::invalid(errors))
}

pub struct ResetConfirmation {
    pub token: String,
    /// Judged by the password policy once the account (whose email it may not be) is known.
    pub password: String,
}

pub fn reset_confirmation(body: &JsonObject) -> Result<ResetConfirmation, Problem> {
    let (token, password) = two_texts(body, "token", "password")?;
    Ok(ResetConfirmation { token, password })
}

pub struct PasswordChange {
    pub current_password: String,
    /// Judged by the password policy in the use case, which knows the account's email.
    pub new_password: String,
}

pub fn password_change(body: &JsonObject) -> Result<PasswordChange, Problem> {
    let (current_password, new_password) = two_texts(body, "current_password", "new_password")?;
    Ok(PasswordChange { current_password, new_password })
}

/// A change of email or mobile number: the new one, parsed, and the current password.
pub struct ContactChangeForm {
    pub new: NewContact,
    pub password: String,
}

pub fn email_change(body: &JsonObject) -> Result<ContactChangeForm, Problem> {
    contact_change(body, "new_email", |text| Email::parse(text).map(NewContact::Email))
}

pub fn phone_change(body: &JsonObject) -> Result<ContactChangeForm, Problem> {
    contact_change(body, "new_phone", |text| IranMobile::parse(text).map(NewContact::Phone))
}

fn contact_change<E: Rejection>(
    body: &JsonObject,
    field: &str,
    parse: impl Fn(&str) -> Result<NewContact, E>,
) -> Result<ContactChangeForm, Problem> {
    let mut errors = Vec::new();
    let new = body.parsed(field, parse, &mut errors);
    let password = body.required_str("password", &mut errors).map(str::to_owned);
    match (new, password) {
        (Some(new), Some(password)) if errors.is_empty() => Ok(ContactChangeForm { new, password }),
        _ => Err(Problem::invalid(errors)),
    }
}

/// The code sent to a new mobile number.
pub fn code_only(body: &JsonObject) -> Result<String, Problem> {
    let mut errors = Vec::new();
    body.required_str("code", &mut errors).map(str::to_owned).ok_or_else(|| Problem::invalid(errors))
}

pub struct LoginForm {
    pub email: String,
    pub password: String,
}

/// Only presence is checked: judging the email's form here would answer differently for a
/// malformed email than for an unknown one.
pub fn login(body: &JsonObject) -> Result<LoginForm, Problem> {
    let (email, password) = two_texts(body, "email", "password")?;
    Ok(LoginForm { email, password })
}

/// Closing the account: the password, re-entered.
pub fn closure(body: &JsonObject) -> Result<String, Problem> {
    let mut errors = Vec::new();
    body.required_str("password", &mut errors).map(str::to_owned).ok_or_else(|| Problem::invalid(errors))
}

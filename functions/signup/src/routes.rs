//! The signup function's routes: decode, ask the domain, encode.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use mizan::accounts::closure::{self, ClosureOutcome};
use mizan::accounts::contact::{Email, IranMobile};
use mizan::accounts::contact_change::{self, ConfirmOutcome, RequestOutcome};
use mizan::accounts::login::{self, LoginOutcome};
use mizan::accounts::logout;
use mizan::accounts::password_change::{self, ChangeError, ChangeOutcome};
use mizan::accounts::password_reset::{self, ResetError, ResetOutcome};
use mizan::accounts::ports::AccountStore;
use mizan::accounts::registration::{self, RegistrationError};
use mizan::accounts::session::IssuedSession;
use mizan::accounts::verification::ContactKind;
use mizan::kernel::clock::now;
use mizan::kernel::problem::{Problem, Rejection};
use mizan_aws::lambda::http::{self, HttpResult};
use serde_json::json;

use crate::Deps;
use crate::forms;

pub async fn handle(deps: &Deps, req: Request) -> HttpResult {
    let path = req.raw_http_path();
    match (req.method().as_str(), path.trim_end_matches('/')) {
        ("POST", "/signup") => sign_up(deps, &req).await,
        ("POST", "/verify/email") => verify_email(deps, &req).await,
        ("POST", "/verify/phone") => verify_phone(deps, &req).await,
        ("POST", "/verify/email/resend") => resend(deps, &req, ContactKind::Email).await,
        ("POST", "/verify/phone/resend") => resend(deps, &req, ContactKind::Phone).await,
        ("POST", "/password/reset") => request_reset(deps, &req).await,
        ("POST", "/password/reset/confirm") => confirm_reset(deps, &req).await,
        ("POST", "/sessions") => log_in(deps, &req).await,
        ("DELETE", "/sessions") => log_out_everywhere(deps, &req).await,
        ("DELETE", "/sessions/current") => log_out(deps, &req).await,
        ("GET", "/me") => me(deps, &req).await,
        ("POST", "/me/closure") => close_account(deps, &req).await,
        ("POST", "/me/password") => change_password(deps, &req).await,
        ("POST", "/me/email") => change_contact(deps, &req, forms::email_change).await,
        ("POST", "/me/phone") => change_contact(deps, &req, forms::phone_change).await,
        ("POST", "/verify/new-email") => verify_new_email(deps, &req).await,
        ("POST", "/verify/new-phone") => verify_new_phone(deps, &req).await,
        (
            _,
            "/signup"
            | "/verify/email"
            | "/verify/phone"
            | "/verify/email/resend"
            | "/verify/phone/resend"
            | "/password/reset"
            | "/password/reset/confirm"
            | "/sessions"
            | "/sessions/current"
            | "/me"
            | "/me/closure"
            | "/me/password"
            | "/me/email"
            | "/me/phone"
            | "/verify/new-email"
            | "/verify/new-phone",
        ) => Err(Problem::method_not_allowed()),
        _ => Err(Problem::not_found()),
    }
}

async fn sign_up(deps: &Deps, req: &Request) -> HttpResult {
    let signup = forms::signup(&http::json_object(req)?)?;
    let source = http::source_ip(req);
    registration::register(&deps.accounts, &deps.outbox, &deps.codes, &deps.limits, signup, source, now())
        .await
        .map_err(registration_problem)?;
    http::json(StatusCode::ACCEPTED, &json!({ "status": "verification_pending" }))
}

/// `POST /verify/{email|phone}/resend` with `{"email": …}`: the same answer whatever the email.
async fn resend(deps: &Deps, req: &Request, kind: ContactKind) -> HttpResult {
    let email = forms::email_only(&http::json_object(req)?)?;
    let source = http::source_ip(req);
    registration::resend(&deps.accounts, &deps.codes, &deps.limits, kind, &email, source, now())
        .await
        .map_err(registration_problem)?;
    http::json(StatusCode::ACCEPTED, &json!({ "status": "verification_pending" }))
}

/// `POST /password/reset` with `{"email": …}`: the same answer whatever the email.
async fn request_reset(deps: &Deps, req: &Request) -> HttpResult {
    let email = forms::email_only(&http::json_object(req)?)?;
    let source = http::source_ip(req);
    password_reset::request(&deps.accounts, &deps.codes, &deps.limits, &email, source, now())
        .await
        .map_err(reset_problem)?;
    http::json(StatusCode::ACCEPTED, &json!({ "status": "reset_requested" }))
}

/// `POST /password/reset/confirm` with `{"token": …, "password": …}`.
async fn confirm_reset(deps: &Deps, req: &Request) -> HttpResult {
    let form = forms::reset_confirmation(&http::json_object(req)?)?;
    let outcome = password_reset::confirm(&deps.accounts, &deps.codes, &form.token, &form.password, now())
        .await
        .map_err(reset_problem)?;
    match outcome {
        ResetOutcome::Done => http::json(StatusCode::OK, &json!({ "status": "password_changed" })),
        ResetOutcome::LinkFailed => Err(Problem::verification_failed()),
        ResetOutcome::Refused(refused) => Err(Problem::invalid(vec![refused.at("password")])),
    }
}

fn reset_problem(error: ResetError) -> Problem {
    match error {
        ResetError::Store(error) => error.into(),
        ResetError::Limited(wait) => Problem::too_many_requests(retry_after(wait)),
        ResetError::Hashing(error) => {
            tracing::error!(%error, "a password reset could not hash the password");
            Problem::internal()
        }
    }
}

fn registration_problem(error: RegistrationError) -> Problem {
    match error {
        RegistrationError::Store(error) => error.into(),
        RegistrationError::Limited(wait) => Problem::too_many_requests(retry_after(wait)),
        RegistrationError::Hashing(error) => {
            tracing::error!(%error, "signup could not hash a password");
            Problem::internal()
        }
    }
}

async fn verify_email(deps: &Deps, req: &Request) -> HttpResult {
    let form = forms::email_verification(&http::json_object(req)?)?;
    let verified = registration::verify_email(&deps.accounts, &deps.codes, &form.token, now()).await?;
    if !verified {
        return Err(Problem::verification_failed());
    }
    http::json(StatusCode::OK, &json!({ "email_verified": true }))
}

async fn verify_phone(deps: &Deps, req: &Request) -> HttpResult {
    let form = forms::phone_verification(&http::json_object(req)?)?;
    let verified = registration::verify_phone(&deps.accounts, &deps.codes, &form.email, &form.code, now()).await?;
    if !verified {
        return Err(Problem::verification_failed());
    }
    http::json(StatusCode::OK, &json!({ "phone_verified": true }))
}

async fn log_in(deps: &Deps, req: &Request) -> HttpResult {
    let form = forms::login(&http::json_object(req)?)?;
    let origin = login::Origin { ip: http::source_ip(req), records: &deps.ip_records, limits: &deps.limits };
    let outcome =
        login::log_in(&deps.accounts, &deps.signer, &deps.codes, origin, &form.email, &form.password, now()).await?;
    match outcome {
        LoginOutcome::Session(session) => session_answer(&session),
        LoginOutcome::InvalidCredentials => Err(Problem::invalid_credentials()),
        LoginOutcome::EmailNotVerified => Err(Problem::email_not_verified()),
        LoginOutcome::Locked(remaining) => Err(Problem::too_many_attempts(retry_after(remaining))),
    }
}

/// A new session, as logging in and changing the password hand it out.
fn session_answer(session: &IssuedSession) -> HttpResult {
    http::json(
        StatusCode::CREATED,
        &json!({
            "token": session.token,
            "token_type": "Bearer",
            "expires_at": mizan::kernel::clock::timestamp(session.expires_at),
            "expires_in": (session.expires_at - now()).whole_seconds(),
        }),
    )
}

/// `POST /me/password` with `{"current_password": …, "new_password": …}`: the other sessions
/// end, and the caller gets a fresh one (201, as a login).
async fn change_password(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let form = forms::password_change(&http::json_object(req)?)?;
    let outcome = password_change::change(
        &deps.accounts,
        &deps.signer,
        &deps.codes,
        &session,
        &form.current_password,
        &form.new_password,
        now(),
    )
    .await
    .map_err(|error| match error {
        ChangeError::Store(error) => error.into(),
        ChangeError::Hashing(error) => {
            tracing::error!(%error, "a password change could not hash the password");
            Problem::internal()
        }
    })?;
    match outcome {
        ChangeOutcome::Changed(session) => session_answer(&session),
        ChangeOutcome::WrongPassword => Err(Problem::wrong_password()),
        ChangeOutcome::Locked(remaining) => Err(Problem::too_many_attempts(retry_after(remaining))),
        ChangeOutcome::Refused(refused) => Err(Problem::invalid(vec![refused.at("new_password")])),
        ChangeOutcome::Gone => Err(Problem::unauthorized()),
    }
}

/// `POST /me/email` with `{"new_email": …, "password": …}`, `POST /me/phone` with
/// `{"new_phone": …, "password": …}`: the proof goes to the new contact, the notice to the old.
async fn change_contact(
    deps: &Deps,
    req: &Request,
    form: fn(&http::JsonObject) -> Result<forms::ContactChangeForm, Problem>,
) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let form = form(&http::json_object(req)?)?;
    let outcome = contact_change::request(
        &deps.accounts,
        &deps.codes,
        &deps.limits,
        session.sub,
        form.new,
        &form.password,
        now(),
    )
    .await?;
    match outcome {
        RequestOutcome::Sent => http::json(StatusCode::ACCEPTED, &json!({ "status": "verification_pending" })),
        RequestOutcome::Unchanged => Err(Problem::contact_unchanged()),
        RequestOutcome::WrongPassword => Err(Problem::wrong_password()),
        RequestOutcome::Locked(remaining) => Err(Problem::too_many_attempts(retry_after(remaining))),
        RequestOutcome::Limited(wait) => Err(Problem::too_many_requests(retry_after(wait))),
        RequestOutcome::Gone => Err(Problem::unauthorized()),
    }
}

/// `POST /verify/new-email` with the token of the link sent to the new email: no session needed,
/// the link is the proof.
async fn verify_new_email(deps: &Deps, req: &Request) -> HttpResult {
    let form = forms::email_verification(&http::json_object(req)?)?;
    let outcome = contact_change::confirm_email(&deps.accounts, &deps.codes, &form.token, now()).await?;
    contact_changed(outcome, json!({ "email_verified": true }))
}

/// `POST /verify/new-phone` with the code sent to the new number, for the logged-in account.
async fn verify_new_phone(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let code = forms::code_only(&http::json_object(req)?)?;
    let outcome = contact_change::confirm_phone(&deps.accounts, &deps.codes, session.sub, &code, now()).await?;
    contact_changed(outcome, json!({ "phone_verified": true }))
}

fn contact_changed(outcome: ConfirmOutcome, answer: serde_json::Value) -> HttpResult {
    match outcome {
        ConfirmOutcome::Changed => http::json(StatusCode::OK, &answer),
        ConfirmOutcome::Failed => Err(Problem::verification_failed()),
        ConfirmOutcome::EmailTaken => Err(Problem::email_taken()),
    }
}

/// `DELETE /sessions/current`: this session ends; the account's others go on.
async fn log_out(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    logout::log_out(&deps.accounts, &session, now()).await?;
    http::no_content()
}

/// `DELETE /sessions`: every session of the account ends, this one included.
async fn log_out_everywhere(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    logout::log_out_everywhere(&deps.accounts, &session).await?;
    http::no_content()
}

async fn me(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    // Closed between the two reads: as good as no session.
    let contacts = deps.accounts.contacts(session.sub).await?.ok_or_else(Problem::unauthorized)?;
    http::json(
        StatusCode::OK,
        &json!({
            "account_id": contacts.id,
            "full_name": contacts.full_name.as_str(),
            "email": {
                "address": contacts.email.as_str(),
                "verified": contacts.email_verified,
                "pending": contacts.pending_email.as_ref().map(Email::as_str),
            },
            "phone": {
                "number": contacts.phone.as_e164(),
                "verified": contacts.phone_verified,
                "pending": contacts.pending_phone.as_ref().map(IranMobile::as_e164),
            },
            "marketing": { "email": contacts.marketing.email, "sms": contacts.marketing.sms },
        }),
    )
}

/// `POST /me/closure` with `{"password": …}`: closes the account at once.
async fn close_account(deps: &Deps, req: &Request) -> HttpResult {
    let session = http::authenticate(req, &deps.sessions, &deps.accounts, now()).await?;
    let password = forms::closure(&http::json_object(req)?)?;
    let outcome = closure::close(&deps.accounts, &deps.codes, session.sub, &password, now()).await?;
    match outcome {
        ClosureOutcome::Closed => http::json(StatusCode::OK, &json!({ "status": "closed" })),
        ClosureOutcome::AlreadyClosed => Err(Problem::unauthorized()),
        ClosureOutcome::WrongPassword => Err(Problem::wrong_password()),
        ClosureOutcome::Locked(remaining) => Err(Problem::too_many_attempts(retry_after(remaining))),
    }
}

/// Whole seconds to wait, at least one (`Retry-After`).
fn retry_after(wait: time::Duration) -> u64 {
    u64::try_from(wait.whole_seconds()).unwrap_or(1).max(1)
}

//! The Persian pages behind unsubscribe links: self-contained, right to left.

use askama::Template;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

/// What the page tells the visitor.
pub enum Page<'a> {
    /// GET: what will stop, and the button that stops it (a GET never unsubscribes: mail
    /// scanners fetch links).
    Confirm {
        channel: &'a str,
        action: &'a str,
    },
    Done {
        channel: &'a str,
    },
    /// The customer turned the channel on after this link was sent: nothing changed (P7).
    OptedInSince {
        channel: &'a str,
    },
    InvalidLink,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribeHtml<'a> {
    title: &'a str,
    message: &'a str,
    action: Option<&'a str>,
}

fn channel_name(channel: &str) -> &'static str {
    match channel {
        "sms" => "پیامک‌های",
        _ => "ایمیل‌های",
    }
}

pub fn render(page: Page<'_>) -> Response<Body> {
    let (status, title, message, action) = match page {
        Page::Confirm { channel, action } => (
            StatusCode::OK,
            "لغو دریافت پیام‌های تبلیغاتی",
            format!("با زدن دکمهٔ زیر، دیگر {} خبری و تبلیغاتی قهوه میزان برای شما فرستاده نمی‌شود. پیام‌های سفارش و فاکتور همچنان می‌رسند.", channel_name(channel)),
            Some(action),
        ),
        Page::Done { channel } => (
            StatusCode::OK,
            "لغو انجام شد",
            format!("از این پس {} خبری و تبلیغاتی قهوه میزان برای شما فرستاده نمی‌شود. هر زمان بخواهید، می‌توانید آن را در تنظیمات حریم خصوصی حساب خود دوباره روشن کنید.", channel_name(channel)),
            None,
        ),
        Page::OptedInSince { channel } => (
            StatusCode::OK,
            "این پیوند قدیمی است",
            format!("شما پس از فرستاده شدن این پیوند، دریافت {} خبری و تبلیغاتی را دوباره روشن کرده‌اید؛ پیوند قدیمی آن انتخاب را برنمی‌گرداند و چیزی تغییر نکرد. برای خاموش کردن، از پیوند تازه‌ترین پیام یا تنظیمات حریم خصوصی حساب خود استفاده کنید.", channel_name(channel)),
            None,
        ),
        Page::InvalidLink => (
            StatusCode::BAD_REQUEST,
            "پیوند نامعتبر است",
            "این پیوند لغو اشتراک معتبر نیست یا دیگر کار نمی‌کند. برای تغییر پیام‌های دریافتی، وارد حساب خود شوید و تنظیمات حریم خصوصی را ببینید.".to_owned(),
            None,
        ),
    };
    let html = UnsubscribeHtml { title, message: &message, action }.render().unwrap_or_default();
    mizan_aws::lambda::http::html(status, html, "; form-action 'self'")
}

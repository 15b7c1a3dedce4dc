//! The Persian page a customer lands on back from the gateway: what became of their payment,
//! and the gateway's reference number when it was paid.

use askama::Template;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use mizan::kernel::persian_format::persian_digits;
use mizan::payments::paying::PaymentOutcome;

#[derive(Template)]
#[template(path = "payment_result.html")]
struct ResultPage<'a> {
    /// For programs (the storefront's tests): `paid`, `not-paid`, `returned`, `unconfirmed`.
    outcome: &'a str,
    title: &'a str,
    message: &'a str,
    order_ref: String,
    ref_id: Option<String>,
    order_link: String,
}

pub fn render(outcome: &PaymentOutcome, storefront_url: &str) -> Response<Body> {
    let (order, kind, title, message, ref_id) = match outcome {
        PaymentOutcome::Paid { order, ref_id } => (
            order,
            "paid",
            "پرداخت موفق",
            "پرداخت سفارش شما انجام و تأیید شد. رسید پرداخت و سپس فاکتور رسمی برایتان فرستاده می‌شود.",
            ref_id.as_ref().map(|ref_id| ref_id.as_str().to_owned()),
        ),
        PaymentOutcome::NotPaid { order } => (
            order,
            "not-paid",
            "پرداخت انجام نشد",
            "مبلغی از حساب شما برداشت نشد. تا پایان مهلت پرداخت می‌توانید از صفحهٔ سفارش دوباره پرداخت کنید.",
            None,
        ),
        PaymentOutcome::Returned { order, reversed: true } => (
            order,
            "returned",
            "مبلغ بازگردانده شد",
            "پرداخت شما پس از بسته شدن سفارش رسید و سفارش دیگر پذیرفتنی نبود؛ مبلغ به کارت شما بازگردانده شد.",
            None,
        ),
        PaymentOutcome::Returned { order, reversed: false } => (
            order,
            "returned",
            "مبلغ بازگردانده می‌شود",
            "پرداخت شما پس از بسته شدن سفارش رسید و سفارش دیگر پذیرفتنی نبود؛ مبلغ ظرف چند روز کاری به حساب شما بازگردانده می‌شود.",
            None,
        ),
        PaymentOutcome::Unconfirmed { order } => (
            order,
            "unconfirmed",
            "پرداخت هنوز تأیید نشده است",
            "تأیید پرداخت از درگاه اکنون ممکن نشد. اگر مبلغی از حساب شما برداشت شده، تا چند دقیقهٔ دیگر سفارش پرداخت‌شده می‌شود و رسید آن را می‌گیرید؛ در غیر این صورت بانک آن را بازمی‌گرداند.",
            None,
        ),
    };
    let page = ResultPage {
        outcome: kind,
        title,
        message,
        order_ref: order.short_ref(),
        ref_id: ref_id.map(|ref_id| persian_digits(&ref_id)),
        order_link: format!("{storefront_url}/orders/{order}"),
    };
    let html = page.render().unwrap_or_default();
    mizan_aws::lambda::http::html(StatusCode::OK, html, "")
}

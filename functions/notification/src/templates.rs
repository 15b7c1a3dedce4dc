//! The messages' Persian texts, rendered from the files in `templates/` (right-to-left HTML
//! with a plain-text twin for every email).

use askama::Template;
use mizan::accounts::person::FullName;
use mizan::kernel::ids::OrderId;
use mizan::messaging::notifications::OrderNews;
use mizan_aws::notify::email::EmailMessage;

/// The verification email names nobody: it goes to an address nobody has proven yet, and what a
/// signup typed as a name must not travel in a mail the store signs.
#[derive(Template)]
#[template(path = "email_verification.html")]
struct EmailVerificationHtml<'a> {
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email_verification.txt")]
struct EmailVerificationText<'a> {
    link: &'a str,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct PasswordResetHtml<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "password_reset.txt")]
struct PasswordResetText<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "existing_account.html")]
struct ExistingAccountHtml<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "existing_account.txt")]
struct ExistingAccountText<'a> {
    name: &'a str,
    link: &'a str,
}

/// A notice about the account itself (a change of contact, a new password): who it is for, what
/// happened, and one link to act on.
#[derive(Template)]
#[template(path = "account_notice.html")]
struct AccountNoticeHtml<'a> {
    subject: &'a str,
    /// `None` for an address nobody has proven yet: nothing typed travels to it.
    name: Option<&'a str>,
    lines: &'a [&'a str],
    link_label: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "account_notice.txt")]
struct AccountNoticeText<'a> {
    name: Option<&'a str>,
    lines: &'a [&'a str],
    link_label: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "contact_change_sms.txt")]
struct ContactChangeSms;

#[derive(Template)]
#[template(path = "phone_verification.txt")]
struct PhoneVerificationSms<'a> {
    code: &'a str,
}

#[derive(Template)]
#[template(path = "order_news.html")]
struct OrderNewsHtml<'a> {
    subject: &'a str,
    name: &'a str,
    headline: &'a str,
    details: &'a [String],
    link: &'a str,
}

#[derive(Template)]
#[template(path = "order_news.txt")]
struct OrderNewsText<'a> {
    name: &'a str,
    headline: &'a str,
    details: &'a [String],
    link: &'a str,
}

#[derive(Template)]
#[template(path = "order_news_sms.txt")]
struct OrderNewsSms<'a> {
    text: &'a str,
}

/// One piece of an order's news in words: the email's subject, its opening, its lines, and
/// the SMS (one Persian segment, 70 characters, where it can be).
struct OrderWords {
    subject: String,
    headline: &'static str,
    details: Vec<String>,
    sms: String,
}

fn order_words(order: OrderId, news: &OrderNews) -> OrderWords {
    let order_ref = order.short_ref();
    let number = format!("شمارهٔ سفارش: {order_ref}");
    match news {
        OrderNews::Placed { total } => OrderWords {
            subject: format!("سفارش {order_ref} در قهوه میزان ثبت شد"),
            headline: "سفارش شما در قهوه میزان ثبت شد.",
            details: vec![
                number,
                format!("مبلغ کل (با مالیات بر ارزش افزوده): {total} ریال"),
                "سفارش را از صفحهٔ آن پرداخت کنید؛ سفارشی که در مهلت پرداخت نشود لغو می‌شود.".to_owned(),
            ],
            sms: format!("سفارش {order_ref} ثبت شد. مبلغ کل: {total} ریال"),
        },
        OrderNews::Paid { amount, ref_id } => {
            let reference = ref_id.as_deref().unwrap_or("—");
            OrderWords {
                subject: format!("رسید پرداخت سفارش {order_ref} در قهوه میزان"),
                headline: "پرداخت سفارش شما انجام و تأیید شد.",
                details: vec![
                    number,
                    format!("مبلغ پرداخت‌شده: {amount} ریال"),
                    format!("شمارهٔ پیگیری پرداخت: {reference}"),
                    "فاکتور رسمی سفارش به‌زودی برایتان فرستاده می‌شود.".to_owned(),
                ],
                sms: format!("پرداخت سفارش {order_ref} تأیید شد. پیگیری: {reference}"),
            }
        }
        OrderNews::Expired => OrderWords {
            subject: format!("سفارش {order_ref} در قهوه میزان لغو شد"),
            headline: "سفارش شما در مهلت پرداخت، پرداخت نشد و لغو شد.",
            details: vec![number, "اگر هنوز آن را می‌خواهید، سفارش تازه‌ای ثبت کنید.".to_owned()],
            sms: format!("سفارش {order_ref} پرداخت نشد و لغو شد."),
        },
        OrderNews::PaymentReturned { amount, reversed } => OrderWords {
            subject: format!("بازگشت مبلغ پرداختی سفارش {order_ref} در قهوه میزان"),
            headline: "پرداخت شما پس از بسته شدن سفارش رسید و سفارش دیگر پذیرفتنی نبود.",
            details: vec![
                number,
                match reversed {
                    true => format!("مبلغ {amount} ریال به کارت شما بازگردانده شد."),
                    false => format!("مبلغ {amount} ریال ظرف چند روز کاری به حساب شما بازگردانده می‌شود."),
                },
            ],
            sms: format!("مبلغ پرداختی سفارش {order_ref} بازگردانده می‌شود."),
        },
        OrderNews::Shipped { carrier, tracking_code } => {
            let (carrier_name, code) = (carrier.persian_name(), tracking_code.as_str());
            let follow = match carrier.tracking_url(tracking_code) {
                Some(url) => format!("پیگیری مرسوله: {url}"),
                None => "پیک فروشگاه پیش از رسیدن با شما تماس می‌گیرد.".to_owned(),
            };
            OrderWords {
                subject: format!("سفارش {order_ref} از قهوه میزان ارسال شد"),
                headline: "سفارش شما بسته‌بندی و ارسال شد.",
                details: vec![number, format!("ارسال با: {carrier_name}"), format!("کد رهگیری: {code}"), follow],
                sms: format!("سفارش {order_ref} با {carrier_name} ارسال شد. کد رهگیری: {code}"),
            }
        }
        OrderNews::Delivered => OrderWords {
            subject: format!("سفارش {order_ref} از قهوه میزان تحویل شد"),
            headline: "سفارش شما تحویل داده شد. نوش جان!",
            details: vec![number, "اگر در تحویل مشکلی بود، از صفحهٔ سفارش به ما خبر دهید.".to_owned()],
            sms: format!("سفارش {order_ref} تحویل شد. نوش جان!"),
        },
        OrderNews::Cancelled { by_customer, refund } => {
            let why = match by_customer {
                true => "سفارش شما به درخواست خودتان لغو شد.",
                false => "متأسفیم؛ سفارش شما از سوی فروشگاه لغو شد.",
            };
            let mut details = vec![number];
            if let Some(amount) = refund {
                details.push(format!("مبلغ {amount} ریال به کارتی که با آن پرداخت کردید بازگردانده می‌شود."));
            }
            OrderWords {
                subject: format!("سفارش {order_ref} در قهوه میزان لغو شد"),
                headline: why,
                details,
                sms: match refund {
                    Some(_) => format!("سفارش {order_ref} لغو شد؛ مبلغ آن بازگردانده می‌شود."),
                    None => format!("سفارش {order_ref} لغو شد."),
                },
            }
        }
        OrderNews::Refunded { amount, reference } => {
            let reference = reference.as_deref().unwrap_or("—");
            OrderWords {
                subject: format!("بازپرداخت سفارش {order_ref} در قهوه میزان"),
                headline: "مبلغ سفارش لغوشدهٔ شما بازپرداخت شد.",
                details: vec![
                    number,
                    format!("مبلغ بازپرداخت: {amount} ریال"),
                    format!("شمارهٔ پیگیری بازپرداخت: {reference}"),
                    "رسیدن آن به حساب کارت، بسته به بانک، ممکن است چند روز کاری طول بکشد.".to_owned(),
                ],
                sms: format!("مبلغ {amount} ریال سفارش {order_ref} بازپرداخت شد. پیگیری: {reference}"),
            }
        }
    }
}

pub fn order_news(
    name: &FullName,
    order: OrderId,
    news: &OrderNews,
    link: &str,
) -> Result<EmailMessage, askama::Error> {
    let words = order_words(order, news);
    let (name, headline, details) = (name.as_str(), words.headline, words.details.as_slice());
    Ok(EmailMessage {
        html: OrderNewsHtml { subject: &words.subject, name, headline, details, link }.render()?,
        text: OrderNewsText { name, headline, details, link }.render()?,
        subject: words.subject,
    })
}

pub fn order_news_sms(order: OrderId, news: &OrderNews) -> Result<String, askama::Error> {
    OrderNewsSms { text: &order_words(order, news).sms }.render()
}

#[derive(Template)]
#[template(path = "invoice_issued.html")]
struct InvoiceIssuedHtml<'a> {
    name: &'a str,
    order_ref: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "invoice_issued.txt")]
struct InvoiceIssuedText<'a> {
    name: &'a str,
    order_ref: &'a str,
    link: &'a str,
}

pub fn invoice_issued(name: &FullName, order: OrderId, link: &str) -> Result<EmailMessage, askama::Error> {
    let (name, order_ref) = (name.as_str(), &order.short_ref());
    Ok(EmailMessage {
        subject: format!("فاکتور رسمی سفارش {order_ref} در قهوه میزان صادر شد"),
        html: InvoiceIssuedHtml { name, order_ref, link }.render()?,
        text: InvoiceIssuedText { name, order_ref, link }.render()?,
    })
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignHtml<'a> {
    name: &'a str,
    text: &'a str,
    unsubscribe: &'a str,
}

#[derive(Template)]
#[template(path = "campaign.txt")]
struct CampaignText<'a> {
    name: &'a str,
    text: &'a str,
    unsubscribe: &'a str,
}

#[derive(Template)]
#[template(path = "campaign_sms.txt")]
struct CampaignSms<'a> {
    text: &'a str,
}

/// A marketing email: the operator's text, and a visible unsubscribe link in the body as the
/// 2024 bulk-sender rules require beside the one-click headers.
pub fn campaign(name: &FullName, subject: &str, text: &str, unsubscribe: &str) -> Result<EmailMessage, askama::Error> {
    let name = name.as_str();
    Ok(EmailMessage {
        subject: subject.to_owned(),
        html: CampaignHtml { name, text, unsubscribe }.render()?,
        text: CampaignText { name, text, unsubscribe }.render()?,
    })
}

pub fn campaign_sms(text: &str) -> Result<String, askama::Error> {
    CampaignSms { text }.render()
}

pub fn email_verification(link: &str) -> Result<EmailMessage, askama::Error> {
    Ok(EmailMessage {
        subject: "تأیید ایمیل شما در قهوه میزان".to_owned(),
        html: EmailVerificationHtml { link }.render()?,
        text: EmailVerificationText { link }.render()?,
    })
}

pub fn password_reset(name: &FullName, link: &str) -> Result<EmailMessage, askama::Error> {
    let name = name.as_str();
    Ok(EmailMessage {
        subject: "گذرواژهٔ تازه برای حساب شما در قهوه میزان".to_owned(),
        html: PasswordResetHtml { name, link }.render()?,
        text: PasswordResetText { name, link }.render()?,
    })
}

pub fn existing_account(name: &FullName, link: &str) -> Result<EmailMessage, askama::Error> {
    let name = name.as_str();
    Ok(EmailMessage {
        subject: "تلاش برای عضویت با ایمیل شما در قهوه میزان".to_owned(),
        html: ExistingAccountHtml { name, link }.render()?,
        text: ExistingAccountText { name, link }.render()?,
    })
}

fn account_notice(
    subject: &str,
    name: Option<&FullName>,
    lines: &[&str],
    link_label: &str,
    link: &str,
) -> Result<EmailMessage, askama::Error> {
    let name = name.map(FullName::as_str);
    Ok(EmailMessage {
        subject: subject.to_owned(),
        html: AccountNoticeHtml { subject, name, lines, link_label, link }.render()?,
        text: AccountNoticeText { name, lines, link_label, link }.render()?,
    })
}

/// To the email a customer asked to change to: nobody has proven it yet, so it names nobody.
pub fn new_email_proof(link: &str) -> Result<EmailMessage, askama::Error> {
    account_notice(
        "تأیید ایمیل تازهٔ حساب شما در قهوه میزان",
        None,
        &[
            "درخواست شده است که این نشانی، ایمیل یک حساب در قهوه میزان شود.",
            "اگر این درخواست از شماست، پیوند زیر را تا ۲۴ ساعت دیگر باز کنید؛ تا آن وقت ایمیل حساب تغییری نمی‌کند.",
            "اگر شما درخواست نکرده‌اید، این پیام را نادیده بگیرید.",
        ],
        "تأیید ایمیل تازه",
        link,
    )
}

/// To the email being replaced: what was asked, that it still receives the account's mail, and
/// how to stop it.
pub fn email_change_notice(name: &FullName, reset: &str) -> Result<EmailMessage, askama::Error> {
    account_notice(
        "درخواست تغییر ایمیل حساب شما در قهوه میزان",
        Some(name),
        &[
            "درخواست شده است که ایمیل حساب شما در قهوه میزان تغییر کند.",
            "تا وقتی نشانی تازه تأیید نشود، پیام‌های حساب به همین نشانی می‌آید.",
            "اگر شما درخواست نکرده‌اید، همین حالا گذرواژهٔ تازه بخواهید: با آن، درخواست تغییر باطل و همهٔ نشست‌ها بسته می‌شود.",
        ],
        "گذرواژهٔ تازه",
        reset,
    )
}

pub fn password_changed(name: &FullName, reset: &str) -> Result<EmailMessage, askama::Error> {
    account_notice(
        "گذرواژهٔ حساب شما در قهوه میزان تغییر کرد",
        Some(name),
        &[
            "گذرواژهٔ حساب شما در قهوه میزان تغییر کرد و نشست‌های دیگر حساب بسته شد.",
            "اگر شما نبودید، همین حالا گذرواژهٔ تازه بخواهید.",
        ],
        "گذرواژهٔ تازه",
        reset,
    )
}

/// To the number being replaced (one Persian segment).
pub fn phone_change_notice() -> Result<String, askama::Error> {
    ContactChangeSms.render()
}

pub fn phone_verification(code: &str) -> Result<String, askama::Error> {
    PhoneVerificationSms { code }.render()
}

#[cfg(test)]
mod tests {
    use mizan::kernel::money::Rial;

    use super::*;

    #[test]
    fn html_escapes_what_the_customer_typed() {
        let name = FullName::parse("مریم & کاظمی").unwrap();
        let message = existing_account(&name, "https://mizancoffee.ir/login").unwrap();
        assert!(!message.html.contains("مریم & کاظمی"), "{}", message.html);
        assert!(message.html.contains("مریم &#38; کاظمی"), "{}", message.html);
        assert!(message.html.contains(r#"dir="rtl""#));
    }

    #[test]
    fn the_verification_email_prints_nothing_the_signup_typed() {
        let message = email_verification("https://mizancoffee.ir/verify-email?token=a.b").unwrap();
        assert!(message.text.contains("https://mizancoffee.ir/verify-email?token=a.b"));
        assert!(message.html.contains(r#"dir="rtl""#) && message.html.contains("سلام"));
    }

    #[test]
    fn the_new_emails_proof_names_nobody_and_the_notices_name_the_owner() {
        let proof = new_email_proof("https://mizancoffee.ir/email/change?token=a.b").unwrap();
        assert!(proof.text.contains("https://mizancoffee.ir/email/change?token=a.b"));
        assert!(proof.text.starts_with("سلام،") && proof.html.contains(r#"dir="rtl""#));
        let name = FullName::parse("مریم کاظمی").unwrap();
        for notice in [
            email_change_notice(&name, "https://mizancoffee.ir/password/reset").unwrap(),
            password_changed(&name, "https://mizancoffee.ir/password/reset").unwrap(),
        ] {
            assert!(notice.text.starts_with("مریم کاظمی عزیز،"), "{}", notice.text);
            assert!(notice.html.contains(r#"href="https://mizancoffee.ir/password/reset""#), "{}", notice.html);
        }
        assert!(phone_change_notice().unwrap().chars().count() <= 70, "one SMS segment");
    }

    #[test]
    fn the_order_confirmation_names_the_order_and_its_total() {
        let order = OrderId::for_checkout(mizan::kernel::ids::AccountId::new(), "k");
        let name = FullName::parse("مریم کاظمی").unwrap();
        let placed = OrderNews::Placed { total: Rial::new(13_200_000) };
        let email = order_news(&name, order, &placed, "https://mizancoffee.ir/orders/x").unwrap();
        assert!(email.subject.contains(&order.short_ref()) && email.subject.ends_with("ثبت شد"));
        assert!(email.text.contains("13,200,000") && email.html.contains(r#"dir="rtl""#));
        let sms = order_news_sms(order, &placed).unwrap();
        assert!(sms.contains(&order.short_ref()) && sms.contains("13,200,000"));
        assert!(sms.chars().count() <= 70, "one Persian SMS segment: {sms}");
    }

    #[test]
    fn the_receipt_names_the_amount_and_the_gateways_reference() {
        let order = OrderId::for_checkout(mizan::kernel::ids::AccountId::new(), "k");
        let name = FullName::parse("مریم کاظمی").unwrap();
        let paid = OrderNews::Paid { amount: Rial::new(13_200_000), ref_id: Some("201".into()) };
        let email = order_news(&name, order, &paid, "https://mizancoffee.ir/orders/x").unwrap();
        assert!(email.subject.starts_with("رسید پرداخت"));
        assert!(email.text.contains("13,200,000") && email.text.contains("201"), "{}", email.text);
        let sms = order_news_sms(order, &paid).unwrap();
        assert!(sms.contains("201") && sms.chars().count() <= 70, "{sms}");
    }

    #[test]
    fn the_shipping_news_names_the_carrier_the_tracking_code_and_where_to_follow_it() {
        use mizan::ordering::lifecycle::{Carrier, TrackingCode};
        let order = OrderId::for_checkout(mizan::kernel::ids::AccountId::new(), "k");
        let name = FullName::parse("مریم کاظمی").unwrap();
        let code = TrackingCode::parse("TPX-884211").unwrap();
        let shipped = OrderNews::Shipped { carrier: Carrier::Tipax, tracking_code: code.clone() };
        let email = order_news(&name, order, &shipped, "https://mizancoffee.ir/orders/x").unwrap();
        assert!(email.text.contains("تیپاکس") && email.text.contains("TPX-884211"), "{}", email.text);
        assert!(email.text.contains(&Carrier::Tipax.tracking_url(&code).unwrap()));
        let sms = order_news_sms(order, &shipped).unwrap();
        assert!(sms.contains("TPX-884211") && sms.contains(&order.short_ref()), "{sms}");
        let by_courier = OrderNews::Shipped { carrier: Carrier::Courier, tracking_code: code };
        let email = order_news(&name, order, &by_courier, "https://mizancoffee.ir/orders/x").unwrap();
        assert!(email.text.contains("پیک فروشگاه") && !email.text.contains("tipaxco"), "{}", email.text);
    }

    #[test]
    fn cancellation_and_refund_news_say_what_comes_back_and_under_which_reference() {
        let order = OrderId::for_checkout(mizan::kernel::ids::AccountId::new(), "k");
        let name = FullName::parse("مریم کاظمی").unwrap();
        let paid = OrderNews::Cancelled { by_customer: false, refund: Some(Rial::new(5_000_000)) };
        let email = order_news(&name, order, &paid, "https://mizancoffee.ir/orders/x").unwrap();
        assert!(email.text.contains("از سوی فروشگاه") && email.text.contains("5,000,000"), "{}", email.text);
        let unpaid = OrderNews::Cancelled { by_customer: true, refund: None };
        assert!(!order_news(&name, order, &unpaid, "https://x").unwrap().text.contains("بازگردانده"));
        let refunded = OrderNews::Refunded { amount: Rial::new(5_000_000), reference: Some("900000017".into()) };
        let email = order_news(&name, order, &refunded, "https://mizancoffee.ir/orders/x").unwrap();
        assert!(email.text.contains("5,000,000") && email.text.contains("900000017"), "{}", email.text);
        let sms = order_news_sms(order, &refunded).unwrap();
        assert!(sms.contains("900000017"), "{sms}");
    }

    #[test]
    fn the_invoice_email_links_to_the_invoice() {
        let order = OrderId::for_checkout(mizan::kernel::ids::AccountId::new(), "k");
        let name = FullName::parse("مریم & کاظمی").unwrap();
        let link = format!("https://mizancoffee.ir/orders/{order}/invoice");
        let email = invoice_issued(&name, order, &link).unwrap();
        assert!(email.subject.contains(&order.short_ref()) && email.subject.contains("فاکتور رسمی"));
        assert!(email.html.contains(r#"dir="rtl""#) && email.html.contains(&format!(r#"href="{link}""#)));
        assert!(email.html.contains("مریم &#38; کاظمی"), "{}", email.html);
        assert!(email.text.contains(&link) && email.text.contains(&order.short_ref()));
    }

    #[test]
    fn the_sms_carries_the_code() {
        assert!(phone_verification("012345").unwrap().contains("012345"));
    }
}

//! The messages' Persian texts, rendered from the files in `templates/` (right-to-left HTML
//! with a plain-text twin for every email).

use askama::Template;
use mizan::accounts::person::FullName;
use mizan::kernel::ids::OrderId;
use mizan::kernel::money::Rial;
use mizan_aws::notify::email::EmailMessage;

#[derive(Template)]
#[template(path = "email_verification.html")]
struct EmailVerificationHtml<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email_verification.txt")]
struct EmailVerificationText<'a> {
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

#[derive(Template)]
#[template(path = "phone_verification.txt")]
struct PhoneVerificationSms<'a> {
    code: &'a str,
}

#[derive(Template)]
#[template(path = "order_placed.html")]
struct OrderPlacedHtml<'a> {
    name: &'a str,
    order_ref: &'a str,
    total: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "order_placed.txt")]
struct OrderPlacedText<'a> {
    name: &'a str,
    order_ref: &'a str,
    total: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "order_placed_sms.txt")]
struct OrderPlacedSms<'a> {
    order_ref: &'a str,
    total: &'a str,
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

pub fn order_placed(name: &FullName, order: OrderId, total: Rial, link: &str) -> Result<EmailMessage, askama::Error> {
    let (name, order_ref, total) = (name.as_str(), &order.short_ref(), &total.to_string());
    Ok(EmailMessage {
        subject: format!("سفارش {order_ref} در قهوه میزان ثبت شد"),
        html: OrderPlacedHtml { name, order_ref, total, link }.render()?,
        text: OrderPlacedText { name, order_ref, total, link }.render()?,
    })
}

pub fn order_placed_sms(order: OrderId, total: Rial) -> Result<String, askama::Error> {
    OrderPlacedSms { order_ref: &order.short_ref(), total: &total.to_string() }.render()
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

pub fn email_verification(name: &FullName, link: &str) -> Result<EmailMessage, askama::Error> {
    let name = name.as_str();
    Ok(EmailMessage {
        subject: "تأیید ایمیل شما در قهوه میزان".to_owned(),
        html: EmailVerificationHtml { name, link }.render()?,
        text: EmailVerificationText { name, link }.render()?,
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

pub fn phone_verification(code: &str) -> Result<String, askama::Error> {
    PhoneVerificationSms { code }.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_what_the_customer_typed() {
        let name = FullName::parse("مریم & کاظمی").unwrap();
        let message = email_verification(&name, "https://mizancoffee.ir/verify-email?token=a.b").unwrap();
        assert!(!message.html.contains("مریم & کاظمی"), "{}", message.html);
        assert!(message.html.contains("مریم &#38; کاظمی"), "{}", message.html);
        assert!(message.html.contains(r#"dir="rtl""#));
        assert!(message.text.contains("https://mizancoffee.ir/verify-email?token=a.b"));
    }

    #[test]
    fn the_order_confirmation_names_the_order_and_its_total() {
        let order = OrderId::for_checkout(mizan::kernel::ids::AccountId::new(), "k");
        let name = FullName::parse("مریم کاظمی").unwrap();
        let email = order_placed(&name, order, Rial::new(13_200_000), "https://mizancoffee.ir/orders/x").unwrap();
        assert!(email.subject.contains(&order.short_ref()));
        assert!(email.text.contains("13,200,000"));
        let sms = order_placed_sms(order, Rial::new(13_200_000)).unwrap();
        assert!(sms.contains(&order.short_ref()) && sms.contains("13,200,000"));
        assert!(sms.chars().count() <= 70, "one Persian SMS segment: {sms}");
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

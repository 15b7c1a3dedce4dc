//! The messages' Persian texts, rendered from the files in `templates/` (right-to-left HTML
//! with a plain-text twin for every email).

use askama::Template;
use mizan::messaging::email::EmailMessage;
use mizan::person::FullName;

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
    fn the_sms_carries_the_code() {
        assert!(phone_verification("012345").unwrap().contains("012345"));
    }
}

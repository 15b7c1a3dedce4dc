//! The official invoice end to end: an order placed through the API gets its invoice, whose
//! printable page renders right to left in a real browser (Debian's headless Chromium), and whose
//! email reaches the customer's verified email only.
//!
//! Needs the local stack (`infra/test` starts it) and `/usr/bin/chromium`, which
//! `infra/local/install` installs; without Chromium the browser test fails, saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mizan_e2e::Stack;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The first request to the invoice function makes `cargo lambda watch` compile it, and the
/// first `OrderPlaced` it is handed waits for that too: minutes on a small machine.
const INVOICE_TIMEOUT: Duration = Duration::from_secs(900);
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

struct PlacedOrder {
    customer_email: String,
    customer_phone: String,
    /// The shipping recipient's phone (E.164): they must never hear about the invoice (P15).
    recipient_phone: String,
    bearer: String,
    order_id: String,
    /// The invoice as JSON.
    invoice: Value,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(INVOICE_TIMEOUT).build().expect("an HTTP client")
}

/// A fresh customer's order of one test product, shipped to another person, and its invoice
/// once issued.
async fn placed_order_with_invoice(stack: &Stack) -> PlacedOrder {
    let (customer, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(12_345_675, 5).await;
    let digits: String = uuid::Uuid::new_v4().as_u128().to_string().chars().take(7).collect();
    let body = json!({
        "items": [{ "product_id": product.as_str(), "quantity": 2 }],
        "buyer": { "type": "natural", "full_name": "مریم کاظمی", "national_code": "0076229645" },
        "shipping": {
            "recipient_name": "رضا احمدی",
            "recipient_phone": format!("0935{digits}"),
            "address": "شیراز، خیابان زند، پلاک ۷",
            "postal_code": "7134567890"
        }
    });
    let key = uuid::Uuid::new_v4().to_string();
    let placed = stack.post_as("/checkout", &bearer, Some(&key), &body).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let order_id = placed.body["order_id"].as_str().expect("an order id").to_owned();
    stack.pay(&bearer, &order_id).await;
    let invoice = await_invoice(stack, &bearer, &order_id).await;
    PlacedOrder {
        customer_email: customer.email,
        customer_phone: customer.phone_e164,
        recipient_phone: format!("+98935{digits}"),
        bearer,
        order_id,
        invoice,
    }
}

/// Polls `GET /orders/{id}/invoice` (JSON) until the invoice is issued: `409 invoice-pending`
/// with `Retry-After` until then.
async fn await_invoice(stack: &Stack, bearer: &str, order_id: &str) -> Value {
    let url = format!("{}/orders/{order_id}/invoice", stack.api);
    let started = Instant::now();
    loop {
        let response = client().get(&url).bearer_auth(bearer).send().await.expect("the API answers");
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let body: Value = response.json().await.expect("a JSON body");
        match status {
            200 => return body,
            409 => {
                assert_eq!(body["code"], "invoice-pending", "{body}");
                assert!(retry_after.is_some(), "invoice-pending comes with Retry-After");
            }
            _ => panic!("GET {url} answered {status}: {body}"),
        }
        assert!(started.elapsed() < INVOICE_TIMEOUT, "no invoice for order {order_id} within {INVOICE_TIMEOUT:?}");
        tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 5))).await;
    }
}

/// Runs Chromium headless on `args`, with a fresh profile of its own; its stdout. A browser
/// that crashes on a signal (it has segfaulted here under load, before reading the page) is
/// run once more: its crash says nothing about the page; a page it cannot render fails as ever.
fn chromium(profile: &Path, args: &[String]) -> String {
    use std::os::unix::process::ExitStatusExt;
    match run_chromium(profile, args) {
        Err(status) if status.signal().is_some() => run_chromium(profile, args),
        first => first,
    }
    .unwrap_or_else(|status| panic!("chromium {args:?} failed ({status})"))
}

/// One run of Chromium: its stdout, or its exit status when it failed (its stderr printed).
fn run_chromium(profile: &Path, args: &[String]) -> Result<String, std::process::ExitStatus> {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {CHROMIUM}: {error}"));
    let started = Instant::now();
    while child.try_wait().expect("chromium's status").is_none() {
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("chromium's output");
    if !output.status.success() {
        eprintln!("chromium {args:?} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
        return Err(output.status);
    }
    Ok(String::from_utf8(output.stdout).expect("chromium prints UTF-8"))
}

/// The text of the body of a serialised DOM: tags dropped, the few escapes a serialiser makes
/// undone.
fn body_text(dom: &str) -> String {
    let body = dom.split_once("<body").map_or(dom, |(_, body)| body);
    let mut text = String::new();
    let mut in_tag = true;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ").replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_invoice_page_renders_right_to_left_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: this test renders the invoice page in Debian's headless Chromium. \
         Run infra/local/install (infra/test runs it), which installs the `chromium` package."
    );
    let stack = Stack::connect().await;
    let order = placed_order_with_invoice(&stack).await;
    let tax_id = order.invoice["tax_id"].as_str().expect("a tax id").to_owned();
    let words = order.invoice["total_in_words"].as_str().expect("the total in words").to_owned();
    assert_eq!(tax_id.len(), 22, "{tax_id}");
    assert!(words.ends_with("ریال"), "{words}");

    // The page as a browser asks for it.
    let response = client()
        .get(format!("{}/orders/{}/invoice", stack.api, order.order_id))
        .bearer_auth(&order.bearer)
        .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .send()
        .await
        .expect("the API answers");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.expect("the page");

    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("invoice_page").join(&order.order_id);
    std::fs::create_dir_all(&folder).expect("a folder for the page");
    let page = folder.join("invoice.html");
    std::fs::write(&page, &html).expect("the page is written");
    let url = format!("file://{}", page.display());

    // The DOM after the browser parsed and loaded the page.
    let profile = folder.join("profile-dom");
    let dom = chromium(&profile, &["--dump-dom".to_owned(), url.clone()]);
    let html_tag = dom.split_once("<head").map_or("", |(tag, _)| tag);
    assert!(html_tag.contains(r#"dir="rtl""#) && html_tag.contains(r#"lang="fa""#), "the root element: {html_tag}");
    let text = body_text(&dom);
    assert!(text.contains("صورتحساب فروش کالا و خدمات"), "{text}");
    assert!(text.contains(&tax_id), "the tax id is shown: {text}");
    assert!(text.contains(&words), "the total in words is shown: {text}");
    assert!(text.contains("۲۷٬۱۶۰٬۴۸۵"), "the total, in Persian digits with separators: {text}");
    assert!(text.contains("مریم کاظمی") && text.contains("۰۰۷۶۲۲۹۶۴۵"), "the buyer: {text}");
    let lower = dom.to_ascii_lowercase();
    for external in ["http://", "https://", "<script", "<link", "<img", "<iframe"] {
        assert!(!lower.contains(external), "the page loads nothing from elsewhere; found {external}");
    }

    // What a reader sees: a screenshot of the rendered page.
    let screenshot = folder.join("invoice.png");
    let profile = folder.join("profile-screenshot");
    chromium(&profile, &[format!("--screenshot={}", screenshot.display()), "--window-size=1280,1400".to_owned(), url]);
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the screenshot is a PNG");
    assert!(png.len() > 20_000, "the screenshot is suspiciously small ({} bytes): a blank page?", png.len());
    println!("invoice page: {}; screenshot: {}", page.display(), screenshot.display());
    for profile in ["profile-dom", "profile-screenshot"] {
        let _ = std::fs::remove_dir_all(folder.join(profile));
    }
}

#[tokio::test]
async fn p8_p9_the_invoice_is_emailed_to_the_customers_verified_email_only() {
    let stack = Stack::connect().await;
    let order = placed_order_with_invoice(&stack).await;
    let link = format!("/orders/{}/invoice", order.order_id);
    // Verification, order confirmation, invoice.
    let emails = stack.await_emails(&order.customer_email, 3).await;
    let invoice_emails: Vec<_> = emails.iter().filter(|(_, body)| body.contains(&link)).collect();
    assert_eq!(invoice_emails.len(), 1, "one invoice email: {emails:?}");
    assert!(invoice_emails[0].0.contains("فاکتور رسمی"), "{:?}", invoice_emails[0].0);
    // Never by SMS (verification code and order confirmation only), never to the recipient.
    let sms = stack.sms_to(&order.customer_phone).await;
    assert!(sms.iter().all(|text| !text.contains("فاکتور رسمی") && !text.contains(&link)), "{sms:?}");
    assert!(stack.sms_to(&order.recipient_phone).await.is_empty(), "the recipient hears nothing");
}

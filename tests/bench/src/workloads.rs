//! What each function is given in a run — a mix of its realistic requests, from its samples —
//! and, for the floor of warm latency, the same work done directly from this process: the same
//! domain calls through the same adapters, hence exactly the DynamoDB/SNS/SES operations the
//! function makes, without the runtime, the event decoding and the answer encoding.

use mizan::accounts::ports::AccountStore;
use mizan::accounts::ports::ConsentStore;
use mizan::invoicing::invoice::InvoiceKind;
use mizan::invoicing::ports::InvoiceBook;
use mizan::messaging::ports::Deliveries;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures::{StreamExt, TryStreamExt, stream};
use mizan::accounts::account::{MarketingConsent, Role, Signup, TermsVersion};
use mizan::accounts::consent::Channel;
use mizan::accounts::consent::{Source, Unsubscribe};
use mizan::accounts::password::Password;
use mizan::accounts::person::FullName;
use mizan::kernel::clock::now;
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::kernel::form::JsonObject;
use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::OrderId;
use mizan::kernel::ids::ProductId;
use mizan::kernel::paging::PageRequest;
use mizan::kernel::solar_hijri::tehran_date;
use mizan::messaging::ports::Claim;
use mizan::ordering::checkout::{self, Checkout, CheckoutCall};
use mizan::ordering::idempotency::IdempotencyKey;
use mizan::ordering::order::DEFAULT_PAYMENT_WINDOW;
use mizan::payments::paying::{self, PaymentOutcome, ReturnStatus};
use mizan::privacy::legal_export::{self, Actor, LegalRequest};
use mizan::reviewing::posting::{self, PostOutcome, Stores};
use mizan::reviewing::review::{Rating, ReviewText};
use mizan_aws::notify::email::EmailMessage;
use serde_json::{Value, json};

use crate::events::{Event, Expect, HttpEvent, Samples};
use crate::stack::{Customer, Stack, checkout_request, unique_email, unique_mobile};

/// The address the samples send from, as API Gateway reports it.
const SOURCE_IP: [u8; 4] = [203, 0, 113, 10];
/// The page of the audit trail the privacy mix lists (`GET /admin/legal-exports?limit=20`).
const AUDIT_PAGE: u32 = 20;
/// The seeded products the checkout sample orders.
const SAMPLE_CART: [(&str, u32); 2] = [("ethiopia-yirgacheffe-250g", 2), ("v60-dripper-02", 1)];

pub trait Workload {
    /// The function (its binary) this drives.
    fn function(&self) -> &'static str;
    /// How many kinds of request it mixes; event `i` is of kind `i % kinds`, so event 0 — the
    /// cold one — is always of the first kind.
    fn kinds(&self) -> usize;
    async fn event(&mut self, i: usize) -> Result<Event>;
}

pub trait Direct: Workload {
    /// Does what event `i` makes the function do, directly; returns its route.
    async fn direct(&mut self, i: usize) -> Result<&'static str>;
}

fn source_ip() -> Option<IpAddr> {
    Some(IpAddr::from(SOURCE_IP))
}

/// The floor: the bare runtime echoing an API Gateway event.
pub struct Floor {
    payload: Value,
}

impl Floor {
    pub fn new(samples: &Samples) -> Result<Self> {
        Ok(Self { payload: samples.load("checkout", "products.json")? })
    }
}

impl Workload for Floor {
    fn function(&self) -> &'static str {
        "bench-floor"
    }
    fn kinds(&self) -> usize {
        1
    }
    async fn event(&mut self, _: usize) -> Result<Event> {
        Ok(Event { route: "echo", payload: self.payload.clone(), expect: Expect::Success })
    }
}

/// Signup: new accounts (each with a fresh email, so each creates one) and `GET /me`.
pub struct SignupWork<'a> {
    stack: &'a Stack,
    signup: HttpEvent,
    me: HttpEvent,
    customer: Customer,
}

impl<'a> SignupWork<'a> {
    pub async fn new(stack: &'a Stack, samples: &Samples) -> Result<Self> {
        Ok(Self {
            stack,
            signup: samples.http("signup", "signup.json")?,
            me: samples.http("signup", "me-without-token.json")?,
            customer: stack.customer(MarketingConsent::default()).await?,
        })
    }
}

impl Workload for SignupWork<'_> {
    fn function(&self) -> &'static str {
        "signup"
    }
    fn kinds(&self) -> usize {
        2
    }
    async fn event(&mut self, i: usize) -> Result<Event> {
        Ok(match i % 2 {
            0 => {
                let mut form = self.signup.json_body()?;
                form["email"] = json!(unique_email()?.as_str());
                form["phone"] = json!(format!("0{}", &unique_mobile()?.as_e164()[3..]));
                self.signup.clone().body(&form).event("POST /signup", 202)
            }
            _ => self.me.clone().bearer(&self.customer.bearer).event("GET /me", 200),
        })
    }
}

impl Direct for SignupWork<'_> {
    async fn direct(&mut self, i: usize) -> Result<&'static str> {
        let stack = self.stack;
        if i % 2 == 1 {
            stack.accounts.contacts(self.customer.id).await?.ok_or_else(|| anyhow!("the customer is gone"))?;
            return Ok("GET /me");
        }
        let email = unique_email()?;
        let signup = Signup {
            password: Password::parse("Mizan-Sample-Passw0rd", Some(&email)).map_err(|_| anyhow!("the password"))?,
            email,
            phone: unique_mobile()?,
            full_name: FullName::parse("نمونه مشتری").map_err(|_| anyhow!("the name"))?,
            terms_version: TermsVersion::parse("1404-01").map_err(|_| anyhow!("the terms version"))?,
            marketing: MarketingConsent::default(),
        };
        mizan::accounts::registration::register(
            &stack.accounts,
            &stack.outbox,
            &stack.codes,
            &stack.limits,
            signup,
            source_ip(),
            now(),
        )
        .await?;
        Ok("POST /signup")
    }
}

/// Checkout: the catalog, placing an order (a fresh Idempotency-Key each), reading one's order.
pub struct CheckoutWork<'a> {
    stack: &'a Stack,
    products: HttpEvent,
    checkout: HttpEvent,
    order: HttpEvent,
    customer: Customer,
    placed: OrderId,
}

impl<'a> CheckoutWork<'a> {
    pub async fn new(stack: &'a Stack, samples: &Samples) -> Result<Self> {
        for (product, _) in SAMPLE_CART {
            stack.restock(product, 1_000_000).await?;
        }
        let customer = stack.customer(MarketingConsent::default()).await?;
        let placed = stack.order(customer.id, &sample_cart()?).await?.order.id;
        Ok(Self {
            stack,
            products: samples.http("checkout", "products.json")?,
            checkout: samples.http("checkout", "checkout-without-token.json")?,
            order: samples.http("checkout", "order-without-token.json")?,
            customer,
            placed,
        })
    }
}

fn sample_cart() -> Result<Vec<(ProductId, u32)>> {
    SAMPLE_CART
        .iter()
        .map(|(id, quantity)| Ok((ProductId::parse(id).map_err(|_| anyhow!("product id {id}"))?, *quantity)))
        .collect()
}

/// The checkout body for `lines`, in the sample's shape (buyer and shipping as the sample has them).
pub fn checkout_body(sample: &HttpEvent, lines: &[(ProductId, u32)]) -> Result<Value> {
    let mut body = sample.json_body()?;
    body["items"] =
        lines.iter().map(|(id, quantity)| json!({"product_id": id.as_str(), "quantity": quantity})).collect();
    Ok(body)
}

/// What the checkout route does: the same use case, with the idempotency record, the IP record
/// and the order read back.
pub async fn check_out_directly(stack: &Stack, customer: &Customer, lines: &[(ProductId, u32)]) -> Result<()> {
    let key = uuid::Uuid::new_v4().to_string();
    let call = CheckoutCall {
        account: customer.id,
        key: IdempotencyKey::parse(&key).map_err(|error| anyhow!("{error}"))?,
        payload_hash: key.clone(),
        source_ip: source_ip(),
        in_progress_for: Duration::from_secs(10),
    };
    let shop = stack.shop();
    let checkout = Checkout { shop: &shop, vat: &stack.vat, payment_window: DEFAULT_PAYMENT_WINDOW };
    checkout::check_out(&checkout, &stack.idempotency, &stack.ip_records, call, checkout_request(lines)?, now())
        .await
        .map_err(|problem| anyhow!("a direct checkout was not placed: {}", problem.code))?;
    Ok(())
}

impl Workload for CheckoutWork<'_> {
    fn function(&self) -> &'static str {
        "checkout"
    }
    fn kinds(&self) -> usize {
        3
    }
    async fn event(&mut self, i: usize) -> Result<Event> {
        Ok(match i % 3 {
            0 => self.products.clone().event("GET /products", 200),
            1 => self
                .checkout
                .clone()
                .bearer(&self.customer.bearer)
                .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
                .body(&checkout_body(&self.checkout, &sample_cart()?)?)
                .event("POST /checkout", 201),
            _ => {
                let id = self.placed.to_string();
                self.order
                    .clone()
                    .bearer(&self.customer.bearer)
                    .path(format!("/orders/{id}"), &[("order_id", &id)])
                    .event("GET /orders/{order_id}", 200)
            }
        })
    }
}

impl Direct for CheckoutWork<'_> {
    async fn direct(&mut self, i: usize) -> Result<&'static str> {
        let stack = self.stack;
        Ok(match i % 3 {
            0 => {
                stack.products.list().await?;
                "GET /products"
            }
            1 => {
                check_out_directly(stack, &self.customer, &sample_cart()?).await?;
                "POST /checkout"
            }
            _ => {
                stack.stored_order(self.placed).await?;
                "GET /orders/{order_id}"
            }
        })
    }
}

/// Invoice: issuing for `OrderPaid` (SNS), then the customer reading that invoice's page.
pub struct InvoiceWork<'a> {
    stack: &'a Stack,
    samples: &'a Samples,
    invoice: HttpEvent,
    customer: Customer,
    /// The order issued by the latest `OrderPaid`, which the next page request reads.
    issued: Option<OrderId>,
}

impl<'a> InvoiceWork<'a> {
    pub async fn new(stack: &'a Stack, samples: &'a Samples) -> Result<Self> {
        for (product, _) in SAMPLE_CART {
            stack.restock(product, 1_000_000).await?;
        }
        Ok(Self {
            stack,
            samples,
            invoice: samples.http("invoice", "invoice-without-token.json")?,
            customer: stack.customer(MarketingConsent::default()).await?,
            issued: None,
        })
    }

    async fn fresh_order(&self) -> Result<mizan::ordering::order::Order> {
        Ok(self.stack.order(self.customer.id, &sample_cart()?).await?.order)
    }

    /// A fresh order, paid, and the event that announces its payment.
    async fn paid_order(&self) -> Result<(OrderId, DomainEvent)> {
        let order = self.fresh_order().await?;
        let payment = self.stack.pay(&order).await?;
        let paid = DomainEvent::OrderPaid {
            order_id: order.id,
            account_id: order.account,
            payment_id: mizan::kernel::ids::PaymentId::new(),
            amount: payment.amount,
            paid_at: payment.paid_at,
            ref_id: payment.tracking_number,
        };
        Ok((order.id, paid))
    }
}

impl Workload for InvoiceWork<'_> {
    fn function(&self) -> &'static str {
        "invoice"
    }
    fn kinds(&self) -> usize {
        2
    }
    async fn event(&mut self, i: usize) -> Result<Event> {
        if i.is_multiple_of(2) {
            let (order, paid) = self.paid_order().await?;
            self.issued = Some(order);
            let payload = self.samples.sns(&Envelope::new(paid, now()))?;
            return Ok(Event { route: "SNS OrderPaid", payload, expect: Expect::Success });
        }
        let id = self.issued.ok_or_else(|| anyhow!("no invoice issued yet"))?.to_string();
        Ok(self
            .invoice
            .clone()
            .bearer(&self.customer.bearer)
            .path(format!("/orders/{id}/invoice"), &[("order_id", &id)])
            .event("GET /orders/{order_id}/invoice", 200))
    }
}

impl Direct for InvoiceWork<'_> {
    async fn direct(&mut self, i: usize) -> Result<&'static str> {
        let stack = self.stack;
        if i % 2 == 1 {
            let id = self.issued.ok_or_else(|| anyhow!("no invoice issued yet"))?;
            stack.invoices.get(id, InvoiceKind::Sale).await?.ok_or_else(|| anyhow!("invoice {id} is missing"))?;
            return Ok("GET /orders/{order_id}/invoice");
        }
        let order = self.fresh_order().await?;
        let payment = stack.pay(&order).await?;
        mizan::invoicing::issuance::issue(&stack.orders, &stack.invoices, &stack.seller, order.id, &payment).await?;
        self.issued = Some(order.id);
        Ok("SNS OrderPaid")
    }
}

/// Payment: customers starting a payment of a fresh order, and coming back from the gateway
/// having paid (verification with the emulator, then the settling transaction).
pub struct PaymentWork<'a> {
    stack: &'a Stack,
    start: HttpEvent,
    callback: HttpEvent,
    customer: Customer,
}

impl<'a> PaymentWork<'a> {
    pub async fn new(stack: &'a Stack, samples: &'a Samples) -> Result<Self> {
        for (product, _) in SAMPLE_CART {
            stack.restock(product, 1_000_000).await?;
        }
        Ok(Self {
            stack,
            start: samples.http("payment", "start-without-token.json")?,
            callback: samples.http("payment", "callback-unknown-payment.json")?,
            customer: stack.customer(MarketingConsent::default()).await?,
        })
    }

    async fn fresh_order(&self) -> Result<mizan::ordering::order::Order> {
        Ok(self.stack.order(self.customer.id, &sample_cart()?).await?.order)
    }
}

impl Workload for PaymentWork<'_> {
    fn function(&self) -> &'static str {
        "payment"
    }
    fn kinds(&self) -> usize {
        2
    }
    async fn event(&mut self, i: usize) -> Result<Event> {
        let order = self.fresh_order().await?;
        if i.is_multiple_of(2) {
            let id = order.id.to_string();
            return Ok(self
                .start
                .clone()
                .bearer(&self.customer.bearer)
                .path(format!("/orders/{id}/payments"), &[("order_id", &id)])
                .event("POST /orders/{order_id}/payments", 201));
        }
        let (payment, authority) = self.stack.paid_at_gateway(&order).await?;
        let id = payment.id.to_string();
        Ok(self
            .callback
            .clone()
            .path(format!("/payments/zarinpal/callback/{id}"), &[("payment_id", &id)])
            .query(&[("Authority", authority.as_str()), ("Status", "OK")])
            .event("GET /payments/zarinpal/callback/{payment_id}", 200))
    }
}

impl Direct for PaymentWork<'_> {
    async fn direct(&mut self, i: usize) -> Result<&'static str> {
        let stack = self.stack;
        let order = self.fresh_order().await?;
        if i.is_multiple_of(2) {
            paying::start_payment(&stack.till, &stack.gateway, order.account, order.id, now())
                .await
                .map_err(|problem| anyhow!("a payment did not start: {}", problem.code))?;
            return Ok("POST /orders/{order_id}/payments");
        }
        let (payment, authority) = stack.paid_at_gateway(&order).await?;
        let outcome =
            paying::return_from_gateway(&stack.till, &stack.gateway, payment.id, &authority, ReturnStatus::Ok, now())
                .await
                .map_err(|problem| anyhow!("a return did not settle: {}", problem.code))?;
        match outcome {
            PaymentOutcome::Paid { .. } => Ok("GET /payments/zarinpal/callback/{payment_id}"),
            other => bail!("a paid return was not settled: {other:?}"),
        }
    }
}

/// Review: the public listing of a product and customers posting reviews of it.
pub struct ReviewWork<'a> {
    stack: &'a Stack,
    listing: HttpEvent,
    post: HttpEvent,
    product: ProductId,
    /// Each posts once: one review per customer and product, at most 5 an hour.
    authors: Vec<Customer>,
}

impl<'a> ReviewWork<'a> {
    pub async fn new(stack: &'a Stack, samples: &Samples, posts: usize) -> Result<Self> {
        Ok(Self {
            stack,
            listing: samples.http("review", "listing.json")?,
            post: samples.http("review", "post-without-token.json")?,
            product: stack.product(1_000).await?,
            authors: stack.customers(posts, MarketingConsent::default()).await?,
        })
    }

    fn author(&mut self) -> Result<Customer> {
        self.authors.pop().ok_or_else(|| anyhow!("the run has more review posts than authors"))
    }
}

impl Workload for ReviewWork<'_> {
    fn function(&self) -> &'static str {
        "review"
    }
    fn kinds(&self) -> usize {
        2
    }
    async fn event(&mut self, i: usize) -> Result<Event> {
        let product = self.product.as_str().to_owned();
        let path = format!("/products/{product}/reviews");
        Ok(if i.is_multiple_of(2) {
            self.listing.clone().path(path, &[("product_id", &product)]).event("GET /products/{id}/reviews", 200)
        } else {
            let author = self.author()?;
            self.post
                .clone()
                .bearer(&author.bearer)
                .path(path, &[("product_id", &product)])
                .event("POST /products/{id}/reviews", 201)
        })
    }
}

impl Direct for ReviewWork<'_> {
    async fn direct(&mut self, i: usize) -> Result<&'static str> {
        let stack = self.stack;
        if i.is_multiple_of(2) {
            stack
                .reviews
                .list(&self.product, PageRequest { limit: 5, cursor: None })
                .await
                .map_err(|_| anyhow!("listing reviews"))?;
            stack.reviews.totals(&self.product).await?;
            return Ok("GET /products/{id}/reviews");
        }
        let author = self.author()?;
        match post_review(stack, author.id, &self.product).await? {
            PostOutcome::Posted(_) => Ok("POST /products/{id}/reviews"),
            other => Err(anyhow!("a direct review was not posted: {other:?}")),
        }
    }
}

/// A five-star review of `product` by `author` (verified buyer or not), as the review route posts one.
async fn post_review(stack: &Stack, author: AccountId, product: &ProductId) -> Result<PostOutcome> {
    let stores = Stores {
        reviews: &stack.reviews,
        products: &stack.products,
        accounts: &stack.accounts,
        orders: &stack.purchases,
    };
    let rating = Rating::new(5).ok_or_else(|| anyhow!("a rating"))?;
    let text =
        ReviewText::parse("عطر میوه‌ای و اسیدیته روشن؛ برای دمی V60 عالی است.").map_err(|_| anyhow!("a review text"))?;
    Ok(posting::post(&stores, author, product.clone(), rating, text, source_ip(), now()).await?)
}

/// Unsubscribe: the privacy settings (read, change), the unsubscribe page and its one-click POST.
pub struct UnsubscribeWork<'a> {
    stack: &'a Stack,
    preferences: HttpEvent,
    page: HttpEvent,
    one_click: HttpEvent,
    customers: Vec<Customer>,
}

impl<'a> UnsubscribeWork<'a> {
    pub async fn new(stack: &'a Stack, samples: &Samples, customers: usize) -> Result<Self> {
        Ok(Self {
            stack,
            preferences: samples.http("unsubscribe", "preferences-without-token.json")?,
            page: samples.http("unsubscribe", "unsubscribe-page-invalid-token.json")?,
            one_click: samples.http("unsubscribe", "one-click-invalid-token.json")?,
            customers: stack.customers(customers, MarketingConsent { email: true, sms: true }).await?,
        })
    }

    fn customer(&self, i: usize) -> &Customer {
        &self.customers[i % self.customers.len()]
    }

    fn token(&self, i: usize) -> String {
        let grant = Unsubscribe { account: self.customer(i).id, channel: Channel::Email, issued_at: now() };
        self.stack.unsubscribe_keys.issue(grant)
    }

    /// Alternates consent, so that every change is a change.
    fn wanted(i: usize) -> bool {
        (i / 4).is_multiple_of(2)
    }
}

impl Workload for UnsubscribeWork<'_> {
    fn function(&self) -> &'static str {
        "unsubscribe"
    }
    fn kinds(&self) -> usize {
        4
    }
    async fn event(&mut self, i: usize) -> Result<Event> {
        let bearer = &self.customer(i).bearer;
        Ok(match i % 4 {
            0 => self.preferences.clone().bearer(bearer).event("GET /me/preferences", 200),
            1 => {
                let mut event =
                    self.preferences.clone().bearer(bearer).body(&json!({"marketing": {"email": Self::wanted(i)}}));
                event = event.header("content-type", "application/json").method("PUT");
                event.event("PUT /me/preferences", 200)
            }
            2 => self.page.clone().query(&[("token", &self.token(i))]).event("GET /unsubscribe", 200),
            _ => self.one_click.clone().query(&[("token", &self.token(i))]).event("POST /unsubscribe", 200),
        })
    }
}

impl Direct for UnsubscribeWork<'_> {
    async fn direct(&mut self, i: usize) -> Result<&'static str> {
        let stack = self.stack;
        let id = self.customer(i).id;
        Ok(match i % 4 {
            0 => {
                stack.accounts.marketing(id).await?;
                "GET /me/preferences"
            }
            1 => {
                stack.accounts.set_marketing(id, Channel::Email, Self::wanted(i), Source::Settings, now()).await?;
                stack.accounts.marketing(id).await?;
                "PUT /me/preferences"
            }
            2 => {
                stack.unsubscribe_keys.verify(&self.token(i)).ok_or_else(|| anyhow!("a bench token did not verify"))?;
                "GET /unsubscribe"
            }
            _ => {
                let grant = stack.unsubscribe_keys.verify(&self.token(i)).ok_or_else(|| anyhow!("a bench token"))?;
                stack.accounts.set_marketing(grant.account, grant.channel, false, Source::OneClick, now()).await?;
                "POST /unsubscribe"
            }
        })
    }
}

/// Notification: the verification email and SMS of new accounts (SNS), each sent once (to
/// contacts not yet verified: a verified one gets none).
pub struct NotificationWork<'a> {
    stack: &'a Stack,
    samples: &'a Samples,
    customers: Vec<Customer>,
}

impl<'a> NotificationWork<'a> {
    pub async fn new(stack: &'a Stack, samples: &'a Samples, customers: usize) -> Result<Self> {
        let customers =
            stream::iter(0..customers).map(|_| stack.new_customer()).buffer_unordered(8).try_collect().await?;
        Ok(Self { stack, samples, customers })
    }

    fn account(&self, i: usize) -> mizan::kernel::ids::AccountId {
        self.customers[i % self.customers.len()].id
    }
}

impl Workload for NotificationWork<'_> {
    fn function(&self) -> &'static str {
        "notification"
    }
    fn kinds(&self) -> usize {
        2
    }
    async fn event(&mut self, i: usize) -> Result<Event> {
        let account_id = self.account(i);
        let (route, event) = if i.is_multiple_of(2) {
            let token = mizan::accounts::verification::EmailToken::generate(account_id).to_text();
            ("SNS EmailVerificationRequested", DomainEvent::EmailVerificationRequested { account_id, token })
        } else {
            let code = mizan::accounts::verification::SmsCode::generate().as_str().to_owned();
            ("SNS PhoneVerificationRequested", DomainEvent::PhoneVerificationRequested { account_id, code })
        };
        Ok(Event { route, payload: self.samples.sns(&Envelope::new(event, now()))?, expect: Expect::Success })
    }
}

impl Direct for NotificationWork<'_> {
    /// Claim, read the contacts, send, mark sent: the exactly-once send of one message.
    async fn direct(&mut self, i: usize) -> Result<&'static str> {
        let stack = self.stack;
        let event_id = uuid::Uuid::now_v7();
        let channel = if i.is_multiple_of(2) { "email" } else { "sms" };
        let Claim::Granted = stack.deliveries.claim(event_id, channel, now()).await? else {
            bail!("a fresh delivery was already claimed")
        };
        let contacts =
            stack.accounts.contacts(self.account(i)).await?.ok_or_else(|| anyhow!("the customer is gone"))?;
        let message_id = if i.is_multiple_of(2) {
            let message = EmailMessage {
                subject: "تأیید نشانی ایمیل".to_owned(),
                html: "<p>برای تأیید نشانی ایمیل خود روی پیوند بزنید.</p>".to_owned(),
                text: "برای تأیید نشانی ایمیل خود روی پیوند بزنید.".to_owned(),
            };
            stack.mailer.send(&contacts.email, message).await?
        } else {
            stack.sms.send(&contacts.phone, "کد تأیید قهوه میزان: ۱۲۳۴۵۶".to_owned()).await?
        };
        stack.deliveries.mark_sent(event_id, channel, &message_id).await?;
        Ok(if i.is_multiple_of(2) { "SNS EmailVerificationRequested" } else { "SNS PhoneVerificationRequested" })
    }
}

/// Privacy: a legal export of one customer by customer id (the customer has an order, with its
/// invoice, and a review, prepared once), and the first page of the audit trail, both by a staff
/// member with the legal role.
pub struct PrivacyWork<'a> {
    stack: &'a Stack,
    export: HttpEvent,
    listing: HttpEvent,
    legal: Customer,
    /// The sample's request (authority, reference) about the prepared customer, dated today.
    request: Value,
}

impl<'a> PrivacyWork<'a> {
    pub async fn new(stack: &'a Stack, samples: &Samples) -> Result<Self> {
        let product = stack.product(10).await?;
        let customer = stack.customer(MarketingConsent { email: true, sms: false }).await?;
        let order = stack.order(customer.id, &[(product.clone(), 1)]).await?.order;
        let payment = stack.pay(&order).await?;
        mizan::invoicing::issuance::issue(&stack.orders, &stack.invoices, &stack.seller, order.id, &payment).await?;
        match post_review(stack, customer.id, &product).await? {
            PostOutcome::Posted(_) => {}
            other => bail!("the privacy customer's review was not posted: {other:?}"),
        }
        let export = samples.http("privacy", "export-without-token.json")?;
        let mut request = export.json_body()?;
        request["subject"] = json!({ "kind": "customer_id", "value": customer.id.to_string() });
        request["date"] = json!(tehran_date(now()).to_string());
        let work = Self {
            stack,
            export,
            listing: samples.http("privacy", "listing-without-token.json")?,
            legal: stack.legal().await?,
            request,
        };
        // The export holds what was prepared (so every run times the same disclosure), and every
        // listing, the first one too, reads a full page: the trail holds a page of disclosures
        // before the run.
        let document = work.export_directly().await?;
        let account = &document["accounts"][0];
        let orders = account["orders"].as_array().map_or(0, Vec::len);
        let reviews = account["reviews"].as_array().map_or(0, Vec::len);
        if (orders, reviews) != (1, 1) || account["orders"][0]["invoice"].is_null() {
            bail!("the privacy customer's export holds {orders} orders and {reviews} reviews, or no invoice");
        }
        for _ in 1..AUDIT_PAGE {
            work.export_directly().await?;
        }
        Ok(work)
    }

    /// What `POST /admin/legal-exports` does once the caller is known to be legal: the request
    /// read, the export gathered, audited and made into its document (returned, not encoded).
    async fn export_directly(&self) -> Result<Value> {
        let at = now();
        let Value::Object(body) = self.request.clone() else { bail!("the export request is not an object") };
        let request = LegalRequest::parse(&JsonObject::new(body), tehran_date(at))
            .map_err(|errors| anyhow!("the bench's legal request is invalid: {errors:?}"))?;
        let stack = self.stack;
        let stores = legal_export::Stores {
            accounts: &stack.accounts,
            orders: &stack.orders,
            invoices: &stack.invoices,
            reviews: &stack.reviews,
            ip_records: &stack.ip_records,
            audit: &stack.audit,
        };
        let actor = Actor { id: self.legal.id, role: Role::Legal, source_ip: source_ip() };
        Ok(stores.export(&stack.subject_key, &request, actor, at).await?.document)
    }
}

impl Workload for PrivacyWork<'_> {
    fn function(&self) -> &'static str {
        "privacy"
    }
    fn kinds(&self) -> usize {
        2
    }
    async fn event(&mut self, i: usize) -> Result<Event> {
        Ok(if i.is_multiple_of(2) {
            self.export.clone().bearer(&self.legal.bearer).body(&self.request).event("POST /admin/legal-exports", 200)
        } else {
            self.listing
                .clone()
                .bearer(&self.legal.bearer)
                .query(&[("limit", &AUDIT_PAGE.to_string())])
                .event("GET /admin/legal-exports", 200)
        })
    }
}

impl Direct for PrivacyWork<'_> {
    async fn direct(&mut self, i: usize) -> Result<&'static str> {
        if i.is_multiple_of(2) {
            self.export_directly().await?;
            return Ok("POST /admin/legal-exports");
        }
        let page = self.stack.audit.list(PageRequest { limit: AUDIT_PAGE, cursor: None }, now()).await?;
        if page.items.len() < AUDIT_PAGE as usize {
            bail!("the audit trail's first page has {} records", page.items.len());
        }
        Ok("GET /admin/legal-exports")
    }
}

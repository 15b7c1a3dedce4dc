//! The local stack as the benchmark uses it: the same adapters the functions build from the same
//! environment (so the floor makes exactly their DynamoDB/SNS/SES calls), and the data a run
//! needs — customers, products with stock, orders, reviews — written directly, not through the
//! functions under measurement.

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use futures::{StreamExt, TryStreamExt, stream};
use mizan::accounts::account::{MarketingConsent, NewAccount, Role, TermsAcceptance, TermsVersion};
use mizan::accounts::consent::UnsubscribeKeys;
use mizan::accounts::contact::{Email, IranMobile, PostalCode};
use mizan::accounts::contact_lookup::ContactLookupKey;
use mizan::accounts::password::{Password, PasswordHash};
use mizan::accounts::person::FullName;
use mizan::accounts::ports::AccountStore;
use mizan::accounts::ports::Registration;
use mizan::accounts::session::SessionSigner;
use mizan::accounts::verification::{
    Challenge, CodeHasher, ContactKind, EMAIL_TOKEN_LIFETIME, EmailToken, SMS_CODE_LIFETIME, SmsCode,
};
use mizan::invoicing::invoice::PaymentRecord;
use mizan::invoicing::invoice::Seller;
use mizan::invoicing::tax_id::MemoryId;
use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::OrderId;
use mizan::kernel::ids::ProductId;
use mizan::kernel::money::Rial;
use mizan::ordering::buyer_lookup::BuyerLookupKey;
use mizan::ordering::catalog::{GoodsId, Product, ProductKind, UnitCode, VatClass};
use mizan::ordering::checkout::{Checkout, CheckoutOutcome, CheckoutRequest, place_order};
use mizan::ordering::identity::{EconomicCode, NationalCode};
use mizan::ordering::order::{Address, Buyer, CartLine, DEFAULT_PAYMENT_WINDOW, Order, Recipient, StoredOrder};
use mizan::ordering::pricing::VatSchedule;
use mizan::payments::paying::{self, PaymentOutcome, ReturnStatus};
use mizan::payments::payment::{Authority, Payment};
use mizan::payments::ports::PaymentBook;
use mizan::privacy::audit::SubjectKey;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::audit::AuditTable;
use mizan_aws::dynamodb::deliveries::DeliveriesTable;
use mizan_aws::dynamodb::idempotency::IdempotencyTable;
use mizan_aws::dynamodb::invoices::InvoicesTable;
use mizan_aws::dynamodb::ip_records::IpRecordsTable;
use mizan_aws::dynamodb::orders::{OrdersTable, PayableOrders, PurchaseIndex};
use mizan_aws::dynamodb::outbox::OutboxTable;
use mizan_aws::dynamodb::payments::PaymentsTable;
use mizan_aws::dynamodb::products::{ProductsTable, product_item};
use mizan_aws::dynamodb::reviews::ReviewsTable;
use mizan_aws::dynamodb::shop::Shop;
use mizan_aws::dynamodb::till::Till;
use mizan_aws::gateway::zarinpal::{Zarinpal, ZarinpalSettings};
use mizan_aws::kms::sealed_fields::FieldSealer;
use mizan_aws::lambda::secrets::{self, Secrets};
use mizan_aws::notify::email::Mailer;
use mizan_aws::notify::sms::SmsSender;
use time::OffsetDateTime;

/// How many writes fixtures keep in flight: DynamoDB Local on two cores saturates well below this.
const FIXTURE_CONCURRENCY: usize = 16;

fn setting(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set: run the benchmark with `infra/bench`"))
}

/// A customer of the benchmark: verified contacts, and a session token as a login would give.
pub struct Customer {
    pub id: AccountId,
    pub bearer: String,
}

pub struct Stack {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub products_table: String,
    pub accounts_table: String,
    pub accounts: AccountsTable,
    pub products: ProductsTable,
    pub orders: OrdersTable,
    pub purchases: PurchaseIndex,
    pub idempotency: IdempotencyTable,
    pub invoices: InvoicesTable,
    pub reviews: ReviewsTable,
    pub deliveries: DeliveriesTable,
    pub ip_records: IpRecordsTable,
    pub audit: AuditTable,
    pub subject_key: SubjectKey,
    pub outbox: OutboxTable,
    pub till: Till,
    pub gateway: Zarinpal,
    /// The local Zarinpal emulator, where the benchmark's customers pay.
    zarinpal_url: String,
    http: reqwest::Client,
    pub mailer: Mailer,
    pub sms: SmsSender,
    pub sessions: SessionSigner,
    pub codes: CodeHasher,
    pub limits: mizan::accounts::abuse_limits::AbuseLimits,
    pub vat: VatSchedule,
    pub unsubscribe_keys: UnsubscribeKeys,
    pub seller: Seller,
    /// One argon2 hash shared by every fixture account: hashing thousands would take minutes.
    password_hash: PasswordHash,
}

impl Stack {
    pub async fn connect() -> Result<Self> {
        let aws = mizan_aws::lambda::config::aws().await;
        // The same secrets the functions read at start, from the stack's Secrets Manager.
        let mut secrets = Secrets::load(
            &aws,
            &[
                "BUYER_CODE_HASH_KEY",
                "AUDIT_SUBJECT_KEY",
                "ZARINPAL_MERCHANT_ID",
                "ZARINPAL_ACCESS_TOKEN",
                "SESSION_SIGNING_KEY",
                "CODE_HASH_KEY",
                "UNSUBSCRIBE_KEYS",
                "CONTACT_LOOKUP_KEY",
            ],
        )
        .await?;
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let sns = aws_sdk_sns::Client::new(&aws);
        let outbox = OutboxTable::new(dynamodb.clone(), setting("OUTBOX_TABLE")?);
        let products_table = setting("PRODUCTS_TABLE")?;
        let accounts_table = setting("ACCOUNTS_TABLE")?;
        let seller = Seller {
            name: setting("SELLER_NAME")?,
            economic_code: EconomicCode::parse(&setting("SELLER_ECONOMIC_CODE")?)
                .map_err(|_| anyhow!("SELLER_ECONOMIC_CODE is invalid"))?,
            address: setting("SELLER_ADDRESS")?,
            postal_code: PostalCode::parse(&setting("SELLER_POSTAL_CODE")?)
                .map_err(|_| anyhow!("SELLER_POSTAL_CODE is invalid"))?,
            memory_id: MemoryId::parse(&setting("TAX_MEMORY_ID")?).map_err(|_| anyhow!("TAX_MEMORY_ID is invalid"))?,
        };
        let fields = FieldSealer::new(aws_sdk_kms::Client::new(&aws), setting("FIELD_KEY_ID")?);
        let password = Password::parse("Mizan-Bench-Passw0rd", None).map_err(|_| anyhow!("the bench password"))?;
        Ok(Self {
            accounts: AccountsTable::new(dynamodb.clone(), &accounts_table)
                .with_outbox(outbox.clone())
                .with_contact_lookup(ContactLookupKey::new(secrets.take("CONTACT_LOOKUP_KEY")?.as_bytes())?),
            products: ProductsTable::new(dynamodb.clone(), &products_table),
            orders: OrdersTable::new(
                dynamodb.clone(),
                setting("ORDERS_TABLE")?,
                fields.clone(),
                BuyerLookupKey::new(secrets.take("BUYER_CODE_HASH_KEY")?.as_bytes())?,
            ),
            purchases: PurchaseIndex::new(dynamodb.clone(), setting("ORDERS_TABLE")?),
            idempotency: IdempotencyTable::new(dynamodb.clone(), setting("IDEMPOTENCY_TABLE")?),
            invoices: InvoicesTable::new(dynamodb.clone(), setting("INVOICES_TABLE")?, fields)
                .with_outbox(outbox.clone()),
            reviews: ReviewsTable::new(dynamodb.clone(), setting("REVIEWS_TABLE")?).with_outbox(outbox.clone()),
            deliveries: DeliveriesTable::new(dynamodb.clone(), setting("DELIVERIES_TABLE")?),
            ip_records: IpRecordsTable::new(dynamodb.clone(), setting("IP_RECORDS_TABLE")?),
            audit: AuditTable::new(dynamodb.clone(), setting("AUDIT_TABLE")?),
            subject_key: SubjectKey::new(secrets.take("AUDIT_SUBJECT_KEY")?.as_bytes())
                .map_err(|_| anyhow!("AUDIT_SUBJECT_KEY is too short"))?,
            till: Till {
                payments: PaymentsTable::new(dynamodb.clone(), setting("PAYMENTS_TABLE")?),
                orders: PayableOrders::new(dynamodb.clone(), setting("ORDERS_TABLE")?),
                products: ProductsTable::new(dynamodb.clone(), &products_table),
                outbox: outbox.clone(),
            },
            gateway: Zarinpal::new(ZarinpalSettings {
                merchant_id: secrets.take("ZARINPAL_MERCHANT_ID")?,
                payment_url: setting("ZARINPAL_PAYMENT_URL")?,
                api_url: setting("ZARINPAL_API_URL")?,
                graphql_url: setting("ZARINPAL_GRAPHQL_URL")?,
                access_token: secrets.take("ZARINPAL_ACCESS_TOKEN")?,
                terminal_id: setting("ZARINPAL_TERMINAL_ID")?,
                callback_url: setting("PAYMENT_CALLBACK_URL")?,
            })?,
            zarinpal_url: setting("MIZAN_ZARINPAL_URL")?,
            http: reqwest::Client::new(),
            outbox,
            mailer: Mailer::new(aws_sdk_sesv2::Client::new(&aws), setting("SENDER_EMAIL")?),
            sms: SmsSender::new(sns),
            sessions: SessionSigner::from_secret(&secrets.take("SESSION_SIGNING_KEY")?)?,
            codes: CodeHasher::new(secrets.take("CODE_HASH_KEY")?.as_bytes())?,
            limits: mizan::accounts::abuse_limits::AbuseLimits::parse(
                &setting("ABUSE_LIMITS")?,
                &std::env::var("ABUSE_LIMITS_EXEMPT").unwrap_or_default(),
            )?,
            vat: VatSchedule::from_json(&setting("VAT_RATES")?)?,
            unsubscribe_keys: UnsubscribeKeys::parse(&secrets::unsubscribe_keys(&secrets.take("UNSUBSCRIBE_KEYS")?)?)?,
            seller,
            password_hash: password.hash()?,
            dynamodb,
            products_table,
            accounts_table,
        })
    }

    /// A customer with both contacts verified and the given marketing consent, as signup and the
    /// two verifications leave one.
    pub async fn customer(&self, marketing: MarketingConsent) -> Result<Customer> {
        self.account(marketing, true).await
    }

    /// A customer as signup leaves one: contacts not yet verified (verification messages go only
    /// to those).
    pub async fn new_customer(&self) -> Result<Customer> {
        self.account(MarketingConsent::default(), false).await
    }

    async fn account(&self, marketing: MarketingConsent, verified: bool) -> Result<Customer> {
        let now = OffsetDateTime::now_utc();
        let id = AccountId::new();
        let email_challenge = Challenge::new(EmailToken::generate(id).hash(&self.codes), now, EMAIL_TOKEN_LIFETIME);
        let phone_challenge = Challenge::new(SmsCode::generate().hash(&self.codes), now, SMS_CODE_LIFETIME);
        let account = NewAccount {
            id,
            email: unique_email()?,
            phone: unique_mobile()?,
            full_name: FullName::parse("مریم کاظمی").map_err(|_| anyhow!("the bench name"))?,
            password_hash: self.password_hash.clone(),
            terms: TermsAcceptance {
                version: TermsVersion::parse("1404-01").map_err(|_| anyhow!("the terms version"))?,
                accepted_at: now,
                source_ip: None,
            },
            marketing,
            email_challenge: email_challenge.clone(),
            phone_challenge: phone_challenge.clone(),
            created_at: now,
            unverified_until: now + mizan::accounts::account::UNVERIFIED_ACCOUNT_LIFETIME,
        };
        match self.accounts.register(&account, &[]).await? {
            Registration::Created => {}
            Registration::EmailTaken(_) | Registration::ReplacedUnverified(_) => {
                return Err(anyhow!("a fresh bench email was taken"));
            }
        }
        if verified {
            self.accounts.confirm(id, ContactKind::Email, &email_challenge).await?;
            self.accounts.confirm(id, ContactKind::Phone, &phone_challenge).await?;
        }
        Ok(Customer { id, bearer: self.bearer(id, Role::Customer) })
    }

    /// A staff member with the legal role, as `infra/ops/grant-staff --role legal` makes one (the
    /// role set on the account item), and a session token as their next login would give.
    pub async fn legal(&self) -> Result<Customer> {
        let person = self.customer(MarketingConsent::default()).await?;
        self.dynamodb
            .update_item()
            .table_name(&self.accounts_table)
            .key("pk", AttributeValue::S(format!("ACCOUNT#{}", person.id)))
            .update_expression("SET #role = :role")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", AttributeValue::S(Role::Legal.as_str().to_owned()))
            .send()
            .await
            .context("granting the legal role")?;
        Ok(Customer { id: person.id, bearer: self.bearer(person.id, Role::Legal) })
    }

    pub async fn customers(&self, count: usize, marketing: MarketingConsent) -> Result<Vec<Customer>> {
        stream::iter(0..count)
            .map(|_| self.customer(marketing))
            .buffer_unordered(FIXTURE_CONCURRENCY)
            .try_collect()
            .await
    }

    pub fn bearer(&self, id: AccountId, role: Role) -> String {
        self.sessions.issue(id, role, 0, OffsetDateTime::now_utc()).token
    }

    /// A product of the benchmark's own with stock for every checkout of a run.
    pub async fn product(&self, stock: u32) -> Result<ProductId> {
        let id = ProductId::parse(&format!("bench-{}", uuid::Uuid::new_v4().simple()))
            .map_err(|_| anyhow!("a bench product id"))?;
        let product = Product {
            id: id.clone(),
            name_fa: "قهوهٔ آزمایشی ۲۵۰ گرمی".to_owned(),
            kind: ProductKind::Beans,
            weight_grams: Some(250),
            unit_code: UnitCode::PACKAGE,
            price: Rial::new(16_800_000),
            vat_class: VatClass::Standard,
            goods_id: GoodsId::parse("2720000118401").map_err(|_| anyhow!("a goods id"))?,
            stock,
        };
        self.dynamodb.put_item().table_name(&self.products_table).set_item(Some(product_item(&product))).send().await?;
        Ok(id)
    }

    /// Sets the stock of a product of the seeded catalog, so that a run's checkouts never run out.
    pub async fn restock(&self, id: &str, stock: u32) -> Result<()> {
        self.dynamodb
            .update_item()
            .table_name(&self.products_table)
            .key("pk", AttributeValue::S(format!("PRODUCT#{id}")))
            .update_expression("SET stock = :stock")
            .expression_attribute_values(":stock", AttributeValue::N(stock.to_string()))
            .send()
            .await
            .with_context(|| format!("restocking {id}"))?;
        Ok(())
    }

    /// The products and orders tables as checkout places orders into them.
    pub fn shop(&self) -> Shop {
        Shop { products: self.products.clone(), orders: self.orders.clone(), outbox: self.outbox.clone() }
    }

    /// Places an order as checkout does (the same domain call), for the functions that read orders.
    pub async fn order(&self, customer: AccountId, lines: &[(ProductId, u32)]) -> Result<StoredOrder> {
        let key = uuid::Uuid::new_v4().to_string();
        let shop = self.shop();
        let checkout = Checkout { shop: &shop, vat: &self.vat, payment_window: DEFAULT_PAYMENT_WINDOW };
        let request = checkout_request(lines)?;
        match place_order(&checkout, customer, &key, &key, request, OffsetDateTime::now_utc()).await? {
            CheckoutOutcome::Placed(order) => Ok(*order),
            other => Err(anyhow!("a bench order was not placed: {other:?}")),
        }
    }

    /// A payment of the order started as the payment function starts one, and paid on the gateway
    /// (the local emulator) by its customer, who has not come back yet.
    pub async fn paid_at_gateway(&self, order: &Order) -> Result<(Payment, Authority)> {
        let now = OffsetDateTime::now_utc();
        let started = paying::start_payment(&self.till, &self.gateway, order.account, order.id, now)
            .await
            .map_err(|problem| anyhow!("a bench payment did not start: {}", problem.code))?;
        let payment = self.till.payment(started.payment).await?.ok_or_else(|| anyhow!("the payment is missing"))?;
        let authority = payment.authority.clone().ok_or_else(|| anyhow!("the payment has no authority"))?;
        let act = format!("{}/_emulator/payments/{}/pay", self.zarinpal_url, authority.as_str());
        self.http.post(act).send().await?.error_for_status()?;
        Ok((payment, authority))
    }

    /// Pays the order as its customer would: paid on the gateway, and the return verified and
    /// settled by the payment function's own use case.
    pub async fn pay(&self, order: &Order) -> Result<PaymentRecord> {
        let (payment, authority) = self.paid_at_gateway(order).await?;
        let now = OffsetDateTime::now_utc();
        let outcome =
            paying::return_from_gateway(&self.till, &self.gateway, payment.id, &authority, ReturnStatus::Ok, now)
                .await
                .map_err(|problem| anyhow!("a bench payment did not return: {}", problem.code))?;
        let PaymentOutcome::Paid { ref_id, .. } = outcome else { bail!("a bench payment was not paid: {outcome:?}") };
        Ok(PaymentRecord {
            tracking_number: ref_id.map(|r| r.as_str().to_owned()),
            paid_at: now,
            amount: payment.amount,
        })
    }

    /// How many accounts a campaign would reach now (consent on for some channel), counted with
    /// the filter the campaign's own scan uses.
    pub async fn audience_count(&self) -> Result<usize> {
        let mut count = 0;
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.accounts_table)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .filter_expression("begins_with(pk, :account) AND (marketing_email = :yes OR marketing_sms = :yes)")
                .expression_attribute_values(":account", AttributeValue::S("ACCOUNT#".to_owned()))
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            count += usize::try_from(page.count).unwrap_or(0);
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    pub async fn stored_order(&self, id: OrderId) -> Result<StoredOrder> {
        self.orders.get(id).await?.ok_or_else(|| anyhow!("order {id} is missing"))
    }
}

pub fn unique_email() -> Result<Email> {
    Email::parse(&format!("bench-{}@example.com", uuid::Uuid::new_v4().simple())).map_err(|_| anyhow!("a bench email"))
}

/// An Iranian mobile number, different for every customer (the low digits of a random id).
pub fn unique_mobile() -> Result<IranMobile> {
    let digits = uuid::Uuid::new_v4().as_u128() % 10_000_000;
    IranMobile::parse(&format!("0912{digits:07}")).map_err(|_| anyhow!("a bench mobile number"))
}

pub fn checkout_request(lines: &[(ProductId, u32)]) -> Result<CheckoutRequest> {
    let name = FullName::parse("مریم کاظمی").map_err(|_| anyhow!("a buyer name"))?;
    Ok(CheckoutRequest {
        cart: lines
            .iter()
            .map(|(product_id, quantity)| CartLine { product_id: product_id.clone(), quantity: *quantity })
            .collect(),
        buyer: Buyer::Natural {
            full_name: name.clone(),
            national_code: NationalCode::parse("0076229645").map_err(|_| anyhow!("a national code"))?,
        },
        recipient: Recipient {
            name,
            phone: IranMobile::parse("09121112233").map_err(|_| anyhow!("a recipient phone"))?,
            address: Address::parse("تهران، خیابان ولیعصر، کوچه بهار، پلاک ۱۲").map_err(|_| anyhow!("an address"))?,
            postal_code: PostalCode::parse("1968913456").map_err(|_| anyhow!("a postal code"))?,
        },
    })
}

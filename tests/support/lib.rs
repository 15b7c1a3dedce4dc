//! What the end-to-end tests share: the running local stack (started by `infra/test`), an HTTP
//! client for the API, and read-back of what the functions stored, sent and logged.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use mizan::accounts::contact_lookup::ContactLookupKey;
use mizan::kernel::ids::ProductId;
use mizan::kernel::money::Rial;
use mizan::ordering::buyer_lookup::BuyerLookupKey;
use mizan::ordering::catalog::{GoodsId, Product, ProductKind, UnitCode, VatClass};
use mizan_aws::dynamodb::orders::OrdersTable;
use mizan_aws::dynamodb::products::product_item;
use mizan_aws::kms::sealed_fields::FieldSealer;
use serde_json::Value;

/// How long a message may take from the function through SNS, the relay and SES/SNS to moto.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Stack {
    pub api: String,
    pub moto: String,
    /// The local Zarinpal emulator (infra/local/zarinpal.py).
    pub zarinpal: String,
    /// The local tax system (infra/local/moadian.py).
    pub moadian: String,
    pub function_log: String,
    pub accounts_table: String,
    pub products_table: String,
    pub orders_table: String,
    pub idempotency_table: String,
    http: reqwest::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The (field, code) pairs of a validation problem's `errors`.
    pub fn field_codes(&self) -> Vec<(String, String)> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        (e["field"].as_str().unwrap_or("").to_owned(), e["code"].as_str().unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: these tests need the local stack; run them with `infra/test`"))
}

impl Stack {
    pub async fn connect() -> Self {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self {
            api: env("MIZAN_API_URL"),
            moto: env("MIZAN_MOTO_URL"),
            zarinpal: env("MIZAN_ZARINPAL_URL"),
            moadian: env("MIZAN_MOADIAN_URL"),
            function_log: env("MIZAN_FUNCTION_LOG"),
            accounts_table: env("ACCOUNTS_TABLE"),
            products_table: env("PRODUCTS_TABLE"),
            orders_table: env("ORDERS_TABLE"),
            idempotency_table: env("IDEMPOTENCY_TABLE"),
            http: reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("an HTTP client"),
            dynamodb: aws_sdk_dynamodb::Client::new(&aws),
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(self.http.post(format!("{}{path}", self.api)).json(body)).await
    }

    /// A POST as a signed-in customer, with an `Idempotency-Key` when given.
    pub async fn post_as(&self, path: &str, bearer: &str, key: Option<&str>, body: &Value) -> Answer {
        let mut request = self.http.post(format!("{}{path}", self.api)).bearer_auth(bearer).json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        self.send(request).await
    }

    /// An empty POST as a signed-in customer's browser sends it, asking for a page.
    pub async fn post_for_page_as(&self, path: &str, bearer: &str) -> Answer {
        let request = self.http.post(format!("{}{path}", self.api)).bearer_auth(bearer).header("accept", "text/html");
        self.send(request).await
    }

    /// `POST /checkout` of `body` as a signed-in customer, under an `Idempotency-Key` of its own.
    pub async fn check_out(&self, bearer: &str, body: &Value) -> Answer {
        self.post_as("/checkout", bearer, Some(&uuid::Uuid::new_v4().to_string()), body).await
    }

    /// A POST of a raw JSON text as a signed-in customer, with an `Idempotency-Key`.
    pub async fn post_text_as(&self, path: &str, bearer: &str, key: &str, body: &str) -> Answer {
        let request = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(bearer)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_owned());
        self.send(request).await
    }

    /// A PATCH with a JSON body, as whoever `bearer` names (or nobody).
    pub async fn patch_as(&self, path: &str, bearer: Option<&str>, body: &Value) -> Answer {
        let mut request = self.http.patch(format!("{}{path}", self.api)).json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// A PUT with a JSON body as a signed-in customer.
    pub async fn put_as(&self, path: &str, bearer: &str, body: &Value) -> Answer {
        self.send(self.http.put(format!("{}{path}", self.api)).bearer_auth(bearer).json(body)).await
    }

    pub fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        &self.dynamodb
    }

    /// The buyer lookup key the functions hash identity codes with.
    pub fn buyer_lookup_key(&self) -> BuyerLookupKey {
        BuyerLookupKey::new(dev_secret("BuyerCodeHashKeySecret").as_bytes()).expect("a 32-byte key")
    }

    pub fn contact_lookup_key(&self) -> ContactLookupKey {
        ContactLookupKey::new(dev_secret("ContactLookupKeySecret").as_bytes()).expect("a 32-byte key")
    }

    /// The orders store as the functions build it: sealing with the local KMS key.
    pub async fn orders_store(&self) -> OrdersTable {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let fields = FieldSealer::new(aws_sdk_kms::Client::new(&aws), env("FIELD_KEY_ID"));
        OrdersTable::new(self.dynamodb.clone(), &self.orders_table, fields, self.buyer_lookup_key())
    }

    /// A customer who signed up, proved both contacts and logged in; with their bearer token.
    pub async fn signed_in_customer(&self) -> (Customer, String) {
        let customer = Customer::fresh();
        let answer = self.post("/signup", &customer.signup_body()).await;
        assert_eq!(answer.status, 202, "{}", answer.body);
        let token = link_token(&self.await_emails(&customer.email, 1).await[0].1);
        let code = sms_code(&self.await_sms(&customer.phone_e164, 1).await[0]);
        assert_eq!(self.post("/verify/email", &serde_json::json!({ "token": token })).await.status, 200);
        let verified = self.post("/verify/phone", &serde_json::json!({ "email": customer.email, "code": code })).await;
        assert_eq!(verified.status, 200);
        let session = self
            .post("/sessions", &serde_json::json!({ "email": customer.email, "password": customer.password }))
            .await;
        assert_eq!(session.status, 201, "{}", session.body);
        let bearer = session.body["token"].as_str().expect("a token").to_owned();
        (customer, bearer)
    }

    /// A signed-in member of staff with `role` (staff, legal, fulfilment), made so with the
    /// operator command the README documents; their bearer token and account id.
    pub async fn staff_member(&self, role: &str) -> (String, String) {
        let (mut customer, _) = self.signed_in_customer().await;
        customer.password = self.reset_password(&customer).await;
        let granted = self.grant_staff(&customer.email, role);
        assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
        let session = self
            .post("/sessions", &serde_json::json!({ "email": customer.email, "password": customer.password }))
            .await;
        let bearer = session.body["token"].as_str().expect("a token").to_owned();
        let id = self.get("/me", Some(&bearer)).await.body["account_id"].as_str().expect("an id").to_owned();
        (bearer, id)
    }

    /// Sets a new password through the reset link, as the email's owner does (which
    /// `grant-staff` asks of a staff account); the new password.
    pub async fn reset_password(&self, customer: &Customer) -> String {
        let before = self.emails_to(&customer.email).await.len();
        let asked = self.post("/password/reset", &serde_json::json!({ "email": customer.email })).await;
        assert_eq!(asked.status, 202, "{}", asked.body);
        let mail = self.await_emails(&customer.email, before + 1).await;
        let token = mail.iter().rev().map(|(_, body)| body).find(|body| body.contains("/password/reset?token="));
        let token = link_token(token.expect("the reset email"));
        let password = format!("{}-reset", customer.password);
        let body = serde_json::json!({ "token": token, "password": password });
        let done = self.post("/password/reset/confirm", &body).await;
        assert_eq!(done.status, 200, "{}", done.body);
        password
    }

    /// Runs the operator command `infra/ops/grant-staff EMAIL --role ROLE` against the stack.
    pub fn grant_staff(&self, email: &str, role: &str) -> std::process::Output {
        let repo = repo_root();
        std::process::Command::new(repo.join(".local/venv/bin/python"))
            .arg(repo.join("infra/ops/grant-staff"))
            .arg(email)
            .args(["--role", role])
            .output()
            .expect("the operator command runs")
    }

    /// A product of this test's own, so that tests never share stock.
    pub async fn add_product(&self, price: u64, stock: u32) -> ProductId {
        let id = ProductId::parse(&format!("test-{}", uuid::Uuid::new_v4().simple())).expect("a valid id");
        let product = Product {
            id: id.clone(),
            name_fa: "قهوه آزمایشی ۲۵۰ گرمی".to_owned(),
            kind: ProductKind::Beans,
            weight_grams: Some(250),
            unit_code: UnitCode::PACKAGE,
            price: Rial::new(price),
            vat_class: VatClass::Standard,
            goods_id: GoodsId::parse("2720000012345").expect("13 digits"),
            stock,
        };
        self.dynamodb
            .put_item()
            .table_name(&self.products_table)
            .set_item(Some(product_item(&product)))
            .send()
            .await
            .expect("DynamoDB Local answers");
        id
    }

    pub async fn stock_of(&self, id: &ProductId) -> u32 {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.products_table)
            .key("pk", AttributeValue::S(format!("PRODUCT#{}", id.as_str())))
            .consistent_read(true)
            .send()
            .await
            .expect("DynamoDB Local answers")
            .item
            .expect("the product exists");
        item["stock"].as_n().expect("a number").parse().expect("a count")
    }

    /// How many items of `table` have a string attribute `name` containing `fragment`.
    pub async fn items_containing(&self, table: &str, name: &str, fragment: &str) -> usize {
        let mut count = 0;
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(table)
                .filter_expression("contains(#a, :v)")
                .expression_attribute_names("#a", name)
                .expression_attribute_values(":v", AttributeValue::S(fragment.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("DynamoDB Local answers");
            count += page.count as usize;
            start = page.last_evaluated_key;
            if start.is_none() {
                return count;
            }
        }
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> Answer {
        self.send(self.http.post(format!("{}{path}", self.api)).header("content-type", content_type).body(body)).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Answer {
        let mut request = self.http.get(format!("{}{path}", self.api));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// A DELETE as whoever `bearer` names.
    pub async fn delete_as(&self, path: &str, bearer: &str) -> Answer {
        self.send(self.http.delete(format!("{}{path}", self.api)).bearer_auth(bearer)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        // cargo-lambda's watch (the local runtime, not our code) now and then answers a bare 500
        // of its own while it hands a request to a busy function; ours always carry our problem
        // type, so only that emulator answer is tried again.
        for _ in 0..3 {
            let Some(attempt) = request.try_clone() else { break };
            let answer = self.send_once(attempt).await;
            if !(answer.status == 500 && answer.body["type"] == "https://httpstatuses.com/500") {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.send_once(request).await
    }

    async fn send_once(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, headers, body }
    }

    /// Invokes a function directly with an event, as Lambda would (cargo-lambda's Invoke API).
    pub async fn invoke(&self, function: &str, event: &Value) -> Answer {
        self.send(self.http.post(format!("{}/2015-03-31/functions/{function}/invocations", self.api)).json(event)).await
    }

    /// A POST of `body` to `function` as API Gateway hands it over from a client at `source_ip`:
    /// the local router reports every caller as 127.0.0.1 (which the local stack exempts from
    /// per-address limits), so a test of those limits speaks to the function directly.
    pub async fn post_from(&self, function: &str, path: &str, body: &Value, source_ip: std::net::IpAddr) -> Answer {
        let event = serde_json::json!({
            "version": "2.0", "routeKey": format!("POST {path}"), "rawPath": path, "rawQueryString": "",
            "headers": { "content-type": "application/json", "host": "api.mizancoffee.ir" },
            "requestContext": {
                "accountId": "123456789012", "apiId": "mizanlocal", "domainName": "api.mizancoffee.ir",
                "http": { "method": "POST", "path": path, "protocol": "HTTP/1.1",
                          "sourceIp": source_ip.to_string(), "userAgent": "mizan-e2e" },
                "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": format!("POST {path}"),
                "stage": "$default", "time": "25/Nov/2026:09:00:00 +0000", "timeEpoch": 1_795_597_200_000_u64
            },
            "body": body.to_string(), "isBase64Encoded": false
        });
        let invoked = self.invoke(function, &event).await;
        assert_eq!(invoked.status, 200, "{function} was invoked: {}", invoked.body);
        let reply = &invoked.body;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in reply["headers"].as_object().into_iter().flatten() {
            if let (Ok(name), Some(Ok(value))) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(reqwest::header::HeaderValue::from_str),
            ) {
                headers.insert(name, value);
            }
        }
        let text = reply["body"].as_str().unwrap_or_default();
        Answer {
            status: reply["statusCode"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
            headers,
            body: serde_json::from_str(text).unwrap_or(Value::String(text.to_owned())),
        }
    }

    /// One tick of `function`'s schedule, as EventBridge sends it; panics unless it ran.
    pub async fn tick(&self, function: &str) {
        let tick = serde_json::json!({ "version": "0", "id": uuid::Uuid::new_v4(), "detail-type": "Scheduled Event",
            "source": "aws.events", "time": "2026-11-25T09:05:00Z", "region": "us-east-1", "resources": [], "detail": {} });
        let answer = self.invoke(function, &tick).await;
        assert_eq!(answer.status, 200, "{function}'s tick ran: {}", answer.body);
    }

    /// Every submission the tax system received (the emulator's own endpoint).
    pub async fn tax_submissions(&self) -> Vec<Value> {
        let url = format!("{}/_emulator/invoices", self.moadian);
        let answer: Value = self.http.get(url).send().await.expect("the emulator answers").json().await.expect("JSON");
        answer.as_array().cloned().unwrap_or_default()
    }

    /// Asks the tax system emulator to behave: `down` ({"down": true}), `inquiries`
    /// ({"status": "TIMEOUT", "times": 2}) or `reject` ({"taxid": …, "code": …}).
    pub async fn tax_system(&self, control: &str, body: &Value) {
        let url = format!("{}/_emulator/{control}", self.moadian);
        let answer = self.http.post(url).json(body).send().await.expect("the emulator answers");
        assert!(answer.status().is_success(), "the emulator took {control}");
    }

    /// Everything moto recorded.
    async fn moto_data(&self) -> Value {
        let url = format!("{}/moto-api/data.json", self.moto);
        self.http.get(url).send().await.expect("moto answers").json().await.expect("moto's data is JSON")
    }

    /// The emails sent to `address` so far: (subject, body).
    pub async fn emails_to(&self, address: &str) -> Vec<(String, String)> {
        let data = self.moto_data().await;
        let messages = data["ses"]["Message"].as_array().cloned().unwrap_or_default();
        messages
            .iter()
            .filter(|m| m["destinations"]["ToAddresses"].as_array().is_some_and(|to| to.iter().any(|a| a == address)))
            .map(|m| (m["subject"].as_str().unwrap_or_default().to_owned(), m["body"].to_string()))
            .collect()
    }

    /// The raw MIME messages sent to `address` so far (marketing goes out raw, with its headers).
    pub async fn raw_emails_to(&self, address: &str) -> Vec<String> {
        let data = self.moto_data().await;
        let messages = data["ses"]["RawMessage"].as_array().cloned().unwrap_or_default();
        messages
            .iter()
            .filter(|m| m["destinations"].to_string().contains(&format!("\"{address}\"")))
            .map(|m| m["raw_data"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// How many raw MIME messages each address has received so far, read in one go.
    pub async fn raw_email_counts(&self, addresses: &[&str]) -> Vec<usize> {
        let data = self.moto_data().await;
        let messages = data["ses"]["RawMessage"].as_array().cloned().unwrap_or_default();
        let destinations: Vec<String> = messages.iter().map(|m| m["destinations"].to_string()).collect();
        addresses
            .iter()
            .map(|address| destinations.iter().filter(|to| to.contains(&format!("\"{address}\""))).count())
            .collect()
    }

    /// The SMS texts sent to `e164` so far.
    pub async fn sms_to(&self, e164: &str) -> Vec<String> {
        let data = self.moto_data().await;
        let messages = data["sns"]["SMS"].as_array().cloned().unwrap_or_default();
        messages
            .iter()
            .filter(|m| m["phone_number"] == e164)
            .map(|m| m["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until at least `count` emails reached `address`.
    pub async fn await_emails(&self, address: &str, count: usize) -> Vec<(String, String)> {
        wait_for(|| self.emails_to(address), |emails| emails.len() >= count, "emails").await
    }

    pub async fn await_sms(&self, e164: &str, count: usize) -> Vec<String> {
        wait_for(|| self.sms_to(e164), |sms| sms.len() >= count, "SMS").await
    }

    /// Waits for the email to `address` whose subject contains `about`; all such emails.
    pub async fn await_email_about(&self, address: &str, about: &str) -> Vec<(String, String)> {
        let about_it = || async {
            let emails = self.emails_to(address).await;
            emails.into_iter().filter(|(subject, _)| subject.contains(about)).collect::<Vec<_>>()
        };
        wait_for(about_it, |emails| !emails.is_empty(), about).await
    }

    /// Waits for the SMS to `e164` that contains `fragment`; all such SMS.
    pub async fn await_sms_containing(&self, e164: &str, fragment: &str) -> Vec<String> {
        let containing =
            || async { self.sms_to(e164).await.into_iter().filter(|text| text.contains(fragment)).collect::<Vec<_>>() };
        wait_for(containing, |texts| !texts.is_empty(), fragment).await
    }

    /// `POST /orders/{order_id}/payments` as the customer: the payment's id and the authority the
    /// gateway gave it (from the StartPay URL), or the answer that refused it.
    pub async fn start_payment(&self, bearer: &str, order_id: &str) -> Result<StartedPayment, Answer> {
        let answer = self.post_as(&format!("/orders/{order_id}/payments"), bearer, None, &Value::Null).await;
        if answer.status != 201 {
            return Err(answer);
        }
        let url = answer.body["redirect_url"].as_str().expect("a redirect URL").to_owned();
        let authority = url.rsplit('/').next().expect("an authority").to_owned();
        let payment_id = answer.body["payment_id"].as_str().expect("a payment id").to_owned();
        Ok(StartedPayment { payment_id, authority, redirect_url: url })
    }

    /// The customer's act on the gateway's page, without a browser (the emulator's own endpoint):
    /// `pay`, `cancel`, `pay-no-callback`, `verify-timeout`, `amount:<rials>`. Answers the URL the
    /// gateway sends the browser back to, if it does.
    pub async fn gateway_act(&self, authority: &str, outcome: &str) -> Option<String> {
        let url = format!("{}/_emulator/payments/{authority}/{outcome}", self.zarinpal);
        let answer: Value = self.http.post(url).send().await.expect("the emulator answers").json().await.expect("JSON");
        answer["callback"].as_str().map(str::to_owned)
    }

    /// What the gateway knows of one payment (the emulator's own endpoint).
    pub async fn gateway_payment(&self, authority: &str) -> Value {
        let url = format!("{}/_emulator/payments/{authority}", self.zarinpal);
        self.http.get(url).send().await.expect("the emulator answers").json().await.expect("JSON")
    }

    /// The browser following the gateway back to our API (an absolute URL on it).
    pub async fn follow(&self, url: &str) -> Answer {
        assert!(url.starts_with(&self.api), "the gateway sends the customer back to our API: {url}");
        self.send(self.http.get(url)).await
    }

    /// Pays the order as its customer does: a payment, paid on the gateway, and the return to
    /// the callback. Panics unless the order came out paid.
    pub async fn pay(&self, bearer: &str, order_id: &str) -> StartedPayment {
        let started = self.start_payment(bearer, order_id).await.unwrap_or_else(|answer| panic!("{}", answer.body));
        let callback = self.gateway_act(&started.authority, "pay").await.expect("a callback");
        let page = self.follow(&callback).await;
        assert!(page.body.as_str().is_some_and(|html| html.contains(r#"data-outcome="paid""#)), "{}", page.body);
        started
    }

    /// Waits until the gateway's record of a payment satisfies `done` (a refund reaches it
    /// through the events topic); that record.
    pub async fn await_gateway_payment(&self, authority: &str, done: impl Fn(&Value) -> bool, what: &str) -> Value {
        wait_for(|| self.gateway_payment(authority), done, what).await
    }

    /// Waits until the order's invoice is issued (`409 invoice-pending` until then, while the
    /// invoice function hears of the payment); the answer that ended the wait.
    pub async fn await_invoice(&self, bearer: &str, order_id: &str) -> Answer {
        self.await_issued(bearer, &format!("/orders/{order_id}/invoice")).await
    }

    /// Waits until the return invoice of a cancelled paid order is issued; the answer that ended
    /// the wait.
    pub async fn await_return_invoice(&self, bearer: &str, order_id: &str) -> Answer {
        self.await_issued(bearer, &format!("/orders/{order_id}/invoice?kind=return")).await
    }

    async fn await_issued(&self, bearer: &str, path: &str) -> Answer {
        // The first OrderPaid of a run may wait for the invoice function to start.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            let answer = self.get(path, Some(bearer)).await;
            if answer.status != 409 {
                return answer;
            }
            assert_eq!(answer.body["code"], "invoice-pending", "{}", answer.body);
            assert!(tokio::time::Instant::now() < deadline, "{path} was not issued in time");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until the campaign of `event_id` has sent its last page; answers how many pages it
    /// took (the notification function records it in the deliveries table).
    pub async fn await_campaign(&self, event_id: &str) -> u32 {
        let table = env("DELIVERIES_TABLE");
        let read = || async {
            let found = self
                .dynamodb
                .get_item()
                .table_name(&table)
                .key("pk", AttributeValue::S(format!("DELIVERY#{event_id}#delivered")))
                .consistent_read(true)
                .send()
                .await
                .expect("DynamoDB Local answers");
            found.item.and_then(|item| item.get("pages")?.as_n().ok()?.parse::<u32>().ok())
        };
        wait_for(read, Option::is_some, "end of the campaign").await.unwrap_or_default()
    }

    /// Every item of the accounts table whose attribute `name` equals `value`.
    pub async fn accounts_items_where(
        &self,
        name: &str,
        value: &str,
    ) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.accounts_table)
                .filter_expression("#a = :v")
                .expression_attribute_names("#a", name)
                .expression_attribute_values(":v", AttributeValue::S(value.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("DynamoDB Local answers");
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// Asserts that none of `secrets` appears in anything the functions logged.
    pub fn assert_not_logged(&self, secrets: &[&str]) {
        let log = std::fs::read_to_string(&self.function_log).expect("the functions' log is readable");
        for secret in secrets {
            assert!(!log.contains(secret), "personal data or a secret reached the functions' log: {secret}");
        }
    }
}

/// A checkout body: `quantity` of `product` (any integer, so that bad quantities can be sent too)
/// bought by `buyer`, shipped to the buyer in Tehran.
pub fn checkout_body(product: &str, quantity: i64, buyer: Value) -> Value {
    serde_json::json!({
        "items": [{ "product_id": product, "quantity": quantity }],
        "buyer": buyer,
        "shipping": {
            "recipient_name": "مریم کاظمی",
            "recipient_phone": "09121112233",
            "address": "تهران، خیابان ولیعصر، کوچه بهار، پلاک ۱۲",
            "postal_code": "1968913456"
        }
    })
}

/// A natural person with a valid national code.
pub fn natural_buyer() -> Value {
    serde_json::json!({ "type": "natural", "full_name": "مریم کاظمی", "national_code": "0076229645" })
}

/// A service of the local stack paused (SIGSTOP) until the guard is dropped (SIGCONT), even when
/// the test fails: it stops answering, as a provider that hangs. By the PID the stack saved.
pub struct Paused {
    pid: String,
}

impl Paused {
    /// `service`: `moto` or `dynamodb`.
    pub fn pause(service: &str) -> Self {
        let state = std::env::var("MIZAN_STATE_DIR").expect("MIZAN_STATE_DIR (run the tests with infra/test)");
        let saved = std::fs::read_to_string(format!("{state}/{service}.pid")).expect("the service's saved PID");
        let pid = saved.lines().next().unwrap_or_default().to_owned();
        signal("-STOP", &pid);
        Self { pid }
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal("-CONT", &self.pid);
    }
}

fn signal(which: &str, pid: &str) {
    let sent = std::process::Command::new("kill").args([which, pid]).status().expect("kill runs");
    assert!(sent.success(), "kill {which} {pid} failed");
}

async fn wait_for<T, F, Fut>(mut read: F, done: impl Fn(&T) -> bool, what: &str) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {what} arrived within {DELIVERY_TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A payment started through the API.
pub struct StartedPayment {
    pub payment_id: String,
    pub authority: String,
    pub redirect_url: String,
}

pub struct Customer {
    pub email: String,
    /// As typed on the storefront: Persian digits and spaces.
    pub phone_typed: String,
    pub phone_e164: String,
    pub full_name: String,
    pub password: String,
}

impl Customer {
    pub fn fresh() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let digits: String =
            id.bytes().filter(u8::is_ascii_digit).chain(std::iter::repeat(b'7')).take(7).map(char::from).collect();
        let persian: Vec<char> = format!("0912{digits}")
            .chars()
            .map(|c| char::from_u32(0x06F0 + c.to_digit(10).unwrap_or(0)).unwrap_or(c))
            .collect();
        let group = |range: std::ops::Range<usize>| persian[range].iter().collect::<String>();
        Self {
            email: format!("customer-{}@example.com", &id[..12]),
            phone_typed: format!("{} {} {}", group(0..4), group(4..7), group(7..11)),
            phone_e164: format!("+98912{digits}"),
            full_name: "مریم کاظمی".to_owned(),
            password: format!("Sahar-{}-roast", &id[..10]),
        }
    }

    pub fn signup_body(&self) -> Value {
        serde_json::json!({
            "email": self.email,
            "phone": self.phone_typed,
            "password": self.password,
            "full_name": self.full_name,
            "accept_terms": true,
            "terms_version": "1404-01",
            "marketing": { "email": true, "sms": false }
        })
    }
}

/// An SNS delivery of a domain event, in the shape Lambda hands it to a function.
pub fn sns_event(message: &Value) -> Value {
    serde_json::json!({ "Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:EventsTopic:test",
        "Sns": {
            "Type": "Notification", "MessageId": uuid::Uuid::new_v4(),
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:EventsTopic",
            "Subject": null, "Message": message.to_string(), "Timestamp": "2026-11-25T09:00:00.000Z",
            "SignatureVersion": "1", "Signature": "", "SigningCertUrl": "", "UnsubscribeUrl": "",
            "MessageAttributes": { "type": { "Type": "String", "Value": message["type"] } }
        }
    }]})
}

/// An SQS delivery of one message, in the shape Lambda hands it to a function.
pub fn sqs_event(body: &Value) -> Value {
    serde_json::json!({ "Records": [{
        "messageId": uuid::Uuid::new_v4(), "receiptHandle": "local", "body": body.to_string(),
        "attributes": { "ApproximateReceiveCount": "1" }, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:CampaignPagesQueue",
        "awsRegion": "us-east-1"
    }]})
}

/// The token of the verification link in an email body.
pub fn link_token(body: &str) -> String {
    let start = body.find("token=").expect("the email has a verification link") + "token=".len();
    body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect()
}

/// Whether `needle` (an id) can be read in `text`: in clear, or in a base64url part of it
/// (between `.`, `=`, `&`, `/` or `?`), as text or, for a UUID, as its sixteen bytes.
pub fn readable_in(text: &str, needle: &str) -> bool {
    use base64::Engine;
    let raw = uuid::Uuid::parse_str(needle).ok().map(|id| id.as_bytes().to_vec());
    text.contains(needle)
        || text.split(['.', '=', '&', '/', '?']).any(|part| {
            let Ok(decoded) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part) else { return false };
            let contains = |wanted: &[u8]| decoded.windows(wanted.len()).any(|w| w == wanted);
            contains(needle.as_bytes()) || raw.as_deref().is_some_and(contains)
        })
}

/// The six-digit code in an SMS.
pub fn sms_code(text: &str) -> String {
    let digits: Vec<char> = text.chars().collect();
    digits
        .windows(6)
        .find(|w| w.iter().all(char::is_ascii_digit))
        .map(|w| w.iter().collect())
        .expect("the SMS has a six-digit code")
}

/// The checkout the tests run in. Read when the test runs (cargo sets the variable then too), not
/// when it is compiled: a test binary that a shared target cache built for another clone of the
/// repository must still read this clone's files.
pub fn repo_root() -> std::path::PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    std::path::PathBuf::from(manifest_dir).join("..")
}

/// A secret of the local stack, as infra/local/dev-secrets.env gives it to moto's Secrets Manager
/// (where the functions read it), by the template's logical id or the operator's secret name.
pub fn dev_secret(key: &str) -> String {
    let text = template::read("infra/local/dev-secrets.env");
    let line = text.lines().find_map(|line| line.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')));
    line.unwrap_or_else(|| panic!("infra/local/dev-secrets.env has no {key}")).trim().to_owned()
}

/// Reading the repository's YAML documents: the SAM template and the OpenAPI contract.
pub mod template {
    use std::path::PathBuf;

    use serde_yaml::Value as Yaml;

    pub fn repo_file(relative: &str) -> PathBuf {
        crate::repo_root().join(relative)
    }

    pub fn read(relative: &str) -> String {
        let path = repo_file(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
    }

    pub fn read_yaml(relative: &str) -> Yaml {
        serde_yaml::from_str(&read(relative)).unwrap_or_else(|error| panic!("{relative} is not valid YAML: {error}"))
    }

    /// CloudFormation short tags (`!Ref X`, `!Sub …`) come out of serde_yaml as tagged values:
    /// look through the tag to the value beneath.
    pub fn untag(value: &Yaml) -> &Yaml {
        match value {
            Yaml::Tagged(tagged) => untag(&tagged.value),
            other => other,
        }
    }

    pub fn field<'a>(value: &'a Yaml, key: &str) -> Option<&'a Yaml> {
        untag(value).as_mapping()?.get(key).map(untag)
    }

    /// Every function of the template: its logical id, its cargo-lambda binary and its
    /// `Properties`.
    pub fn functions(template: &Yaml) -> Vec<(String, String, Yaml)> {
        let resources = field(template, "Resources").and_then(Yaml::as_mapping).expect("template has no Resources");
        let mut functions = Vec::new();
        for (logical_id, resource) in resources {
            let logical_id = logical_id.as_str().expect("resource ids are strings").to_owned();
            if field(resource, "Type").and_then(Yaml::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let binary = field(resource, "Metadata")
                .and_then(|metadata| field(metadata, "BuildProperties"))
                .and_then(|build| field(build, "Binary"))
                .and_then(Yaml::as_str)
                .unwrap_or_else(|| {
                    panic!("template: {logical_id} has no Metadata.BuildProperties.Binary (the cargo-lambda binary)")
                })
                .to_owned();
            let properties = field(resource, "Properties").cloned().unwrap_or(Yaml::Null);
            functions.push((logical_id, binary, properties));
        }
        functions
    }

    /// A DynamoDB table of the template: its logical id (the local table's name), key
    /// attributes and TTL attribute.
    pub struct Table {
        pub name: String,
        pub key: String,
        pub sort_key: Option<String>,
        pub ttl: Option<String>,
        /// The KMS key of its encryption at rest, when it is a customer-managed one (`!Ref`).
        pub kms_key: Option<String>,
        pub point_in_time_recovery: bool,
    }

    pub fn tables() -> Vec<Table> {
        let template = read_yaml("infra/template.yaml");
        let resources = field(&template, "Resources").and_then(Yaml::as_mapping).expect("template has no Resources");
        let text = |value: Option<&Yaml>| value.and_then(Yaml::as_str).map(str::to_owned);
        resources
            .iter()
            .filter(|(_, resource)| text(field(resource, "Type")).as_deref() == Some("AWS::DynamoDB::Table"))
            .map(|(name, resource)| {
                let properties = field(resource, "Properties").expect("a table has Properties");
                let schema = field(properties, "KeySchema").and_then(Yaml::as_sequence).expect("a KeySchema");
                let key_of = |kind: &str| {
                    schema
                        .iter()
                        .find(|key| text(field(key, "KeyType")).as_deref() == Some(kind))
                        .and_then(|key| text(field(key, "AttributeName")))
                };
                let ttl = field(properties, "TimeToLiveSpecification")
                    .filter(|ttl| field(ttl, "Enabled").and_then(Yaml::as_bool) == Some(true))
                    .and_then(|ttl| text(field(ttl, "AttributeName")));
                let sse = field(properties, "SSESpecification");
                let kms_key = sse
                    .filter(|sse| text(field(sse, "SSEType")).as_deref() == Some("KMS"))
                    .and_then(|sse| text(field(sse, "KMSMasterKeyId")));
                let point_in_time_recovery = field(properties, "PointInTimeRecoverySpecification")
                    .and_then(|pitr| field(pitr, "PointInTimeRecoveryEnabled"))
                    .and_then(Yaml::as_bool)
                    == Some(true);
                Table {
                    name: text(Some(name)).expect("a logical id"),
                    key: key_of("HASH").expect("a partition key"),
                    sort_key: key_of("RANGE"),
                    ttl,
                    kms_key,
                    point_in_time_recovery,
                }
            })
            .collect()
    }
}

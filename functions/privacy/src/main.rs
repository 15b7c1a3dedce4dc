//! The privacy function: legal requests (P3). It reads every table that holds personal data, so
//! it is a function of its own: the public functions never get that reach (least privilege).

mod routes;

use mizan::accounts::contact_lookup::ContactLookupKey;
use mizan::accounts::session::SessionKeys;
use mizan::ordering::buyer_lookup::BuyerLookupKey;
use mizan::privacy::audit::SubjectKey;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::audit::AuditTable;
use mizan_aws::dynamodb::invoices::InvoicesTable;
use mizan_aws::dynamodb::ip_records::IpRecordsTable;
use mizan_aws::dynamodb::orders::OrdersTable;
use mizan_aws::dynamodb::reviews::ReviewsTable;
use mizan_aws::kms::sealed_fields::FieldSealer;
use mizan_aws::lambda::config;
use mizan_aws::lambda::secrets::Secrets;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub accounts: AccountsTable,
    pub orders: OrdersTable,
    pub invoices: InvoicesTable,
    pub reviews: ReviewsTable,
    pub ip_records: IpRecordsTable,
    /// Appended to and listed, never changed (the IAM policy allows nothing else).
    pub audit: AuditTable,
    pub subject_key: SubjectKey,
    pub sessions: SessionKeys,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let mut secrets = Secrets::load(&aws, &["BUYER_CODE_HASH_KEY", "AUDIT_SUBJECT_KEY", "CONTACT_LOOKUP_KEY"]).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    // The codes of buyers are sealed (P4): an export opens them for the authority.
    let fields = FieldSealer::new(aws_sdk_kms::Client::new(&aws), config::required("FIELD_KEY_ID")?);
    let deps = Deps {
        accounts: AccountsTable::new(dynamodb.clone(), config::required("ACCOUNTS_TABLE")?)
            .with_contact_lookup(ContactLookupKey::new(secrets.take("CONTACT_LOOKUP_KEY")?.as_bytes())?),
        orders: OrdersTable::new(
            dynamodb.clone(),
            config::required("ORDERS_TABLE")?,
            fields.clone(),
            BuyerLookupKey::new(secrets.take("BUYER_CODE_HASH_KEY")?.as_bytes())?,
        ),
        invoices: InvoicesTable::new(dynamodb.clone(), config::required("INVOICES_TABLE")?, fields),
        reviews: ReviewsTable::new(dynamodb.clone(), config::required("REVIEWS_TABLE")?),
        ip_records: IpRecordsTable::new(dynamodb.clone(), config::required("IP_RECORDS_TABLE")?),
        audit: AuditTable::new(dynamodb, config::required("AUDIT_TABLE")?),
        subject_key: SubjectKey::new(secrets.take("AUDIT_SUBJECT_KEY")?.as_bytes())?,
        sessions: config::session_keys()?,
    };
    mizan_aws::lambda::http::serve(|req| routes::handle(&deps, req)).await
}

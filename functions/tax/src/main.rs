//! The tax function: every minute, reports issued invoices to the tax system (سامانه مودیان) and
//! follows the sent ones until each is accepted or rejected.

use mizan::invoicing::tax_id::MemoryId;
use mizan::invoicing::tax_reporting;
use mizan::kernel::clock::now;
use mizan::kernel::failures::StoreError;
use mizan_aws::dynamodb::invoices::InvoicesTable;
use mizan_aws::kms::sealed_fields::FieldSealer;
use mizan_aws::lambda::config;
use mizan_aws::lambda::triggers::Failed;
use mizan_aws::tax::moadian::Moadian;
use mizan_aws::tax::signing_key;

#[derive(Debug, thiserror::Error)]
#[error("the setting {0} is not valid")]
struct InvalidSetting(&'static str);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let fields = FieldSealer::new(aws_sdk_kms::Client::new(&aws), config::required("FIELD_KEY_ID")?);
    let invoices = InvoicesTable::new(aws_sdk_dynamodb::Client::new(&aws), config::required("INVOICES_TABLE")?, fields);
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let key = signing_key::load(&secrets, &config::required("TAX_SIGNING_KEY_SECRET")?).await?;
    let memory_id =
        MemoryId::parse(&config::required("TAX_MEMORY_ID")?).map_err(|_| InvalidSetting("TAX_MEMORY_ID"))?;
    let system = Moadian::new(&config::required("TAX_SYSTEM_URL")?, memory_id, key)?;
    mizan_aws::lambda::triggers::serve_schedule(|| async {
        let run = tax_reporting::report(&invoices, &invoices, &system, now()).await.map_err(Failed::<StoreError>)?;
        tracing::info!(
            sent = run.sent,
            accepted = run.accepted,
            rejected = run.rejected,
            put_off = run.put_off,
            "tax reporting run done"
        );
        Ok::<(), Failed<StoreError>>(())
    })
    .await
}

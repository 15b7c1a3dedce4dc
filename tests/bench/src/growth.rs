//! How time and memory grow with the work: checkouts of more lines, listings over more reviews,
//! a customer's first page of orders over more orders.
//! Each point is a fresh process (so its VmHWM is its own), warmed by one invocation, then timed.

use mizan::reviewing::ports::ReviewStore;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures::{StreamExt, TryStreamExt, stream};
use mizan::accounts::account::MarketingConsent;
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::ProductId;
use mizan::kernel::ids::ReviewId;
use mizan::reviewing::review::{Change, Rating, Review, ReviewText, Version, Visibility};
use time::OffsetDateTime;

use crate::events::{Event, Samples};
use crate::measure::{Binaries, percentile};
use crate::report::GrowthPoint;
use crate::stack::Stack;
use crate::workloads::{check_out_directly, checkout_body};

const CHECKOUT_LINES: [usize; 3] = [1, 10, 50];
const REVIEW_COUNTS: [usize; 3] = [10, 1_000, 10_000];
const CAMPAIGN_AUDIENCES: [usize; 3] = [100, 1_000, 10_000];
const ORDER_COUNTS: [usize; 2] = [10, 1_000];
/// The campaign's configured pace (5 sends a second per channel in the template) would make the
/// series measure sleeping; raised, it measures the work.
const CAMPAIGN_RATE: &str = "10000";
const INVOCATIONS: usize = 40;
const WRITE_CONCURRENCY: usize = 16;

pub async fn run(binaries: &Binaries, stack: &Stack, samples: &Samples) -> Result<Vec<GrowthPoint>> {
    let mut points = checkout(binaries, stack, samples).await?;
    points.extend(review_listing(binaries, stack, samples).await?);
    points.extend(my_orders(binaries, stack, samples).await?);
    points.extend(campaign(binaries, stack, samples).await?);
    Ok(points)
}

/// Runs `events` on a fresh process of `function` (the first one untimed) and sums it up.
async fn point(
    binaries: &Binaries,
    function: &str,
    events: Vec<Event>,
    series: &'static str,
    size: usize,
    unit: &'static str,
    note: String,
) -> Result<GrowthPoint> {
    let (mut process, _) = binaries.start(function).await?;
    let mut took = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        let answer = process.invoke(&event.payload).await?;
        event.check(answer.failed, &answer.body)?;
        if i > 0 {
            took.push(answer.took);
        }
    }
    let peak = process.peak_rss_kib()?;
    process.stop().await?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "   {series} {size} {unit}: p50 {:.2} ms, peak RSS {:.1} MiB",
        ms(percentile(&took, 50.0)),
        peak as f64 / 1024.0
    );
    Ok(GrowthPoint {
        series,
        size,
        unit,
        invocations: took.len(),
        p50_ms: ms(percentile(&took, 50.0)),
        p99_ms: ms(percentile(&took, 99.0)),
        peak_rss_mib: peak as f64 / 1024.0,
        note,
    })
}

async fn checkout(binaries: &Binaries, stack: &Stack, samples: &Samples) -> Result<Vec<GrowthPoint>> {
    eprintln!("== growth: checkout of {CHECKOUT_LINES:?} lines");
    let most = CHECKOUT_LINES.iter().copied().max().unwrap_or(1);
    let products: Vec<ProductId> =
        stream::iter(0..most).map(|_| stack.product(1_000_000)).buffered(WRITE_CONCURRENCY).try_collect().await?;
    let customer = stack.customer(MarketingConsent::default()).await?;
    let sample = samples.http("checkout", "checkout-without-token.json")?;
    let mut points = Vec::new();
    for lines in CHECKOUT_LINES {
        let cart: Vec<(ProductId, u32)> = products.iter().take(lines).map(|id| (id.clone(), 1)).collect();
        let body = checkout_body(&sample, &cart)?;
        let events = (0..=INVOCATIONS)
            .map(|_| {
                sample
                    .clone()
                    .bearer(&customer.bearer)
                    .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
                    .body(&body)
                    .event("POST /checkout", 201)
            })
            .collect();
        let mut direct = Vec::with_capacity(INVOCATIONS);
        for _ in 0..INVOCATIONS {
            let started = std::time::Instant::now();
            check_out_directly(stack, &customer, &cart).await?;
            direct.push(started.elapsed());
        }
        let note = format!("direct p50 {:.2} ms", percentile(&direct, 50.0).as_secs_f64() * 1000.0);
        points.push(point(binaries, "checkout", events, "checkout", lines, "lines", note).await?);
    }
    Ok(points)
}

/// Published reviews written straight into the table (the item layout of the reviews store),
/// each by its own made-up author: listing reads no accounts.
async fn seed_reviews(stack: &Stack, product: &ProductId, count: usize) -> Result<()> {
    let text = ReviewText::parse("قهوه‌ای خوش‌عطر با پس‌طعم شکلاتی.").map_err(|_| anyhow!("a review text"))?;
    let start = OffsetDateTime::now_utc() - time::Duration::days(30);
    stream::iter(0..count)
        .map(|i| {
            let text = text.clone();
            async move {
                let author = AccountId::new();
                let rating = Rating::new(1 + (i % 5) as u32).ok_or_else(|| anyhow!("a rating"))?;
                let at = start + time::Duration::seconds(i as i64);
                let review = Review {
                    id: ReviewId::new(),
                    product: product.clone(),
                    author,
                    display_name: "مریم ک.".to_owned(),
                    rating,
                    text: text.clone(),
                    verified_buyer: false,
                    edited_by_store: false,
                    visibility: Visibility::Published,
                    posted_at: at,
                    version: 1,
                };
                let version = Version {
                    number: 1,
                    rating,
                    text,
                    visibility: Visibility::Published,
                    at,
                    change: Change::ByAuthor { source_ip: None },
                };
                if !stack.reviews.save(&review, None, &version, &[]).await? {
                    bail!("a seeded review collided");
                }
                Ok(())
            }
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect()
        .await
}

async fn review_listing(binaries: &Binaries, stack: &Stack, samples: &Samples) -> Result<Vec<GrowthPoint>> {
    eprintln!("== growth: review listing over {REVIEW_COUNTS:?} reviews");
    let sample = samples.http("review", "listing.json")?;
    let mut points = Vec::new();
    for count in REVIEW_COUNTS {
        let product = stack.product(1_000).await?;
        let started = std::time::Instant::now();
        seed_reviews(stack, &product, count).await?;
        eprintln!("   {count} reviews written in {:.1} s", started.elapsed().as_secs_f64());
        let id = product.as_str().to_owned();
        let listing =
            sample.clone().path(format!("/products/{id}/reviews"), &[("product_id", &id)]).query(&[("limit", "20")]);
        let (sum, seen) = stack.reviews.totals(&product).await?;
        if seen != count as u64 {
            bail!("the product has {seen} reviews counted, not {count} (rating sum {sum})");
        }
        let events = (0..=INVOCATIONS).map(|_| listing.clone().event("GET /products/{id}/reviews", 200)).collect();
        let note = "the first page, 20 reviews".to_owned();
        points.push(point(binaries, "review", events, "review listing", count, "reviews", note).await?);
    }
    Ok(points)
}

/// `GET /me/orders` for a customer with more and more orders: the first page reads the newest
/// ones from the by-account index, however many there are behind them.
async fn my_orders(binaries: &Binaries, stack: &Stack, samples: &Samples) -> Result<Vec<GrowthPoint>> {
    eprintln!("== growth: a customer's orders, first page, over {ORDER_COUNTS:?} orders");
    let sample = samples.http("checkout", "my-orders-without-token.json")?;
    let product = stack.product(1_000_000).await?;
    let cart = [(product, 1)];
    let mut points = Vec::new();
    for count in ORDER_COUNTS {
        let customer = stack.customer(MarketingConsent::default()).await?;
        let started = std::time::Instant::now();
        stream::iter(0..count)
            .map(|_| check_out_directly(stack, &customer, &cart))
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        eprintln!("   {count} orders placed in {:.1} s", started.elapsed().as_secs_f64());
        let page = sample.clone().bearer(&customer.bearer).query(&[("limit", "20")]);
        let events = (0..=INVOCATIONS).map(|_| page.clone().event("GET /me/orders", 200)).collect();
        let note = "the first page, 20 orders".to_owned();
        points.push(point(binaries, "checkout", events, "my orders", count, "orders", note).await?);
    }
    Ok(points)
}

/// A campaign as it runs on Lambda: one `CampaignPublished` from SNS, then one invocation per
/// page that the function hands on through the campaign-pages queue, until it hands on none.
/// Every page runs in the same process, so its VmHWM is the campaign's peak.
async fn campaign(binaries: &Binaries, stack: &Stack, samples: &Samples) -> Result<Vec<GrowthPoint>> {
    eprintln!("== growth: campaign to {CAMPAIGN_AUDIENCES:?} customers (rates raised to {CAMPAIGN_RATE}/s)");
    let queue_url =
        std::env::var("CAMPAIGN_PAGES_QUEUE_URL").map_err(|_| anyhow!("CAMPAIGN_PAGES_QUEUE_URL is not set"))?;
    let sqs = aws_sdk_sqs::Client::new(&mizan_aws::lambda::config::aws().await);
    let everyone = MarketingConsent { email: true, sms: true };
    let mut points = Vec::new();
    for audience in CAMPAIGN_AUDIENCES {
        let missing = audience.saturating_sub(stack.audience_count().await?);
        let started = std::time::Instant::now();
        stack.customers(missing, everyone).await?;
        let reached = stack.audience_count().await?;
        eprintln!(
            "   {missing} customers added in {:.1} s; the audience is {reached}",
            started.elapsed().as_secs_f64()
        );

        let published = DomainEvent::CampaignPublished {
            campaign_id: uuid::Uuid::new_v4(),
            subject: "قهوهٔ تازه".to_owned(),
            text: "برداشت تازهٔ اتیوپی یرگاچفه رسید؛ این هفته با برشته‌کاری روشن.".to_owned(),
        };
        let overrides = [("CAMPAIGN_EMAILS_PER_SECOND", CAMPAIGN_RATE), ("CAMPAIGN_SMS_PER_SECOND", CAMPAIGN_RATE)];
        let (mut process, _) = binaries.start_with("notification", &overrides).await?;
        let first = Event {
            route: "SNS CampaignPublished",
            payload: samples.sns(&Envelope::new(published, OffsetDateTime::now_utc()))?,
            expect: crate::events::Expect::Success,
        };
        let answer = process.invoke(&first.payload).await?;
        first.check(answer.failed, &answer.body)?;
        let mut pages = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(1)
                .wait_time_seconds(1)
                .send()
                .await?;
            let Some(message) = received.messages.and_then(|messages| messages.into_iter().next()) else { break };
            let body = message.body.as_deref().ok_or_else(|| anyhow!("a campaign page without a body"))?;
            let page = Event {
                route: "SQS campaign page",
                payload: samples.sqs(message.message_id.as_deref().unwrap_or_default(), body)?,
                expect: crate::events::Expect::Success,
            };
            let answer = process.invoke(&page.payload).await?;
            page.check(answer.failed, &answer.body)?;
            pages.push(answer.took);
            if let Some(handle) = message.receipt_handle {
                sqs.delete_message().queue_url(&queue_url).receipt_handle(handle).send().await?;
            }
        }
        let peak = process.peak_rss_kib()?;
        process.stop().await?;
        let total: Duration = pages.iter().sum::<Duration>() + answer.took;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        eprintln!(
            "   {reached} customers: {} pages, {:.1} s in all, peak RSS {:.1} MiB",
            pages.len(),
            total.as_secs_f64(),
            peak as f64 / 1024.0
        );
        points.push(GrowthPoint {
            series: "campaign",
            size: reached,
            unit: "customers",
            invocations: pages.len() + 1,
            p50_ms: ms(percentile(&pages, 50.0)),
            p99_ms: ms(percentile(&pages, 99.0)),
            peak_rss_mib: peak as f64 / 1024.0,
            note: format!(
                "p50/p99 per page; {} pages, {:.1} s in all ({:.2} ms a customer)",
                pages.len(),
                total.as_secs_f64(),
                ms(total) / reached.max(1) as f64
            ),
        });
    }
    Ok(points)
}

//! The orders story: the orders service places an order and records its progress, the shipping
//! service ships it, and each order's state is rebuilt by folding its events.
//!
//! The store is the one `EVENTFOLD_STORE` names (default `sqlite:orders.db`), so every run adds
//! one order to those of earlier runs.

use std::collections::BTreeMap;

use eventfold::{rebuild_all, store, Aggregate, DecodePolicy, Envelope};

/// The orders service: the document that defines the channel.
pub mod orders_service {
    include!(concat!(env!("OUT_DIR"), "/event_source.rs"));
}

/// The shipping service: reuses the channel through `$ref` and declares its own operations.
pub mod shipping_service {
    include!(concat!(env!("OUT_DIR"), "/shipping_service.rs"));
}

use orders_service::event_source_orders as orders;
use shipping_service::event_source_orders as shipping;

/// An order as its events describe it. There is no `Order` message: this is their fold.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Order {
    pub customer: String,
    pub lines: usize,
    pub total: f64,
    pub paid: bool,
    pub warehouse: Option<String>,
    pub tracking: Option<String>,
    pub events: u64,
}

impl Order {
    /// Where in its life the order is.
    pub fn status(&self) -> &'static str {
        match (self.paid, &self.warehouse, &self.tracking) {
            (_, _, Some(_)) => "shipped",
            (_, Some(_), None) => "preparing",
            (true, None, None) => "paid",
            (false, None, None) => "new",
        }
    }
}

impl Aggregate for Order {
    type Message = orders::Message;

    fn apply(&mut self, envelope: &Envelope<orders::Message>) {
        self.events += 1;
        match &envelope.message {
            orders::Message::OrderNew(new) => {
                self.customer = new.customer_id.clone();
                self.lines = new.items.len();
                self.total = new.items.iter().map(|i| f64::from(i.quantity) * i.unit_price).sum();
            }
            orders::Message::OrderPaymentReceived(_) => self.paid = true,
            orders::Message::OrderPreparing(preparing) => self.warehouse = Some(preparing.warehouse.clone()),
            orders::Message::OrderShipped(shipped) => self.tracking = Some(shipped.tracking_number.clone()),
        }
    }
}

fn headers(producer: &str) -> orders::OrderEventHeaders {
    orders::OrderEventHeaders { producer: producer.to_owned(), trace_id: None }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("EVENTFOLD_STORE").unwrap_or_else(|_| "sqlite:orders.db".to_owned());
    let store = store::open(&url).await?;
    println!("store: {url}");

    let order_id = eventfold::uuid::Uuid::now_v7().to_string();
    let now = eventfold::Timestamp::now();

    // The orders service places the order and records its progress.
    let place = orders::PlaceOrderPublisher::new(store.clone());
    let progress = orders::RecordOrderProgressPublisher::new(store.clone());
    place
        .order_new(
            orders::OrderNew {
                order_id: order_id.clone(),
                customer_id: "c-1001".to_owned(),
                items: vec![
                    orders::OrderNewItemsItem { sku: "BOOK-42".to_owned(), quantity: 1, unit_price: 12.5 },
                    orders::OrderNewItemsItem { sku: "MUG-7".to_owned(), quantity: 2, unit_price: 8.0 },
                ],
                placed_at: now,
                note: None,
            },
            headers("orders"),
        )
        .await?;
    progress
        .order_payment_received(
            orders::OrderPaymentReceived {
                order_id: order_id.clone(),
                amount: 28.5,
                currency: orders::OrderPaymentReceivedCurrency::Eur,
                method: orders::OrderPaymentReceivedMethod::BankTransfer,
            },
            headers("orders"),
        )
        .await?;
    progress
        .order_preparing(
            orders::OrderPreparing {
                order_id: order_id.clone(),
                warehouse: "north-1".to_owned(),
                estimated_ship_date: None,
            },
            headers("orders"),
        )
        .await?;

    // The shipping service ships it, through the publisher generated from its own document.
    let ship = shipping::OrderShippedPublisher::new(store.clone());
    let receipt = ship
        .order_shipped(
            shipping::OrderShipped {
                order_id: order_id.clone(),
                carrier: "postnl".to_owned(),
                tracking_number: format!("3S{}", &order_id[..8].to_uppercase()),
                shipped_at: now,
            },
            shipping::OrderEventHeaders { producer: "shipping".to_owned(), trace_id: None },
        )
        .await?;
    println!("shipped {order_id}: {} version {}", receipt.stream_id, receipt.stream_version);

    // Fold every order's events back into its state.
    let orders: BTreeMap<String, Order> = rebuild_all(&store, DecodePolicy::Fail).await?;
    for (id, order) in &orders {
        println!(
            "order {id}: {status:<9} customer {customer}, {lines} lines, total {total:.2}, {events} events",
            status = order.status(),
            customer = order.customer,
            lines = order.lines,
            total = order.total,
            events = order.events,
        );
    }
    println!("orders in store: {}", orders.len());
    Ok(())
}

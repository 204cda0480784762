//! The generated code at work: wire form, discriminators, names, correlation ids, example
//! round-trips, and the publisher and consumer stubs against a real store.

use std::path::{Path, PathBuf};

use eventfold::serde_json::{self, json, Value};
use eventfold::{ChannelMessage, Envelope, HandlerError, MemoryStore, StartFrom, TypedSubscription};
use eventfold_tests::awkward::{self_ as self_channel, tree_channel, user_events};
use eventfold_tests::orders_event_source::event_source_orders as orders;
use eventfold_tests::orders_shipping_service::event_source_orders as shipping;
use eventfold_tests::schemas::{quote_replies, quotes, shipments as shapes};
use eventfold_tests::v2::orders_order_id as v2;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn order_new() -> orders::OrderNew {
    orders::OrderNew {
        order_id: "o-1".to_owned(),
        customer_id: "c-1".to_owned(),
        items: vec![orders::OrderNewItemsItem { sku: "BOOK".to_owned(), quantity: 2, unit_price: 10.0 }],
        placed_at: "2026-12-01T09:30:00Z".parse().unwrap(),
        note: None,
    }
}

// --- wire form -------------------------------------------------------------------------------

#[test]
fn the_payload_type_writes_its_constant_tag_first() {
    let text = serde_json::to_string(&order_new()).unwrap();
    assert!(text.starts_with(r#"{"eventType":"OrderNew","orderId":"o-1""#), "{text}");
    // The channel enum is the bare payload.
    assert_eq!(serde_json::to_string(&orders::Message::OrderNew(order_new())).unwrap(), text);
    // Optional fields that are `None` are left out.
    assert!(!text.contains("note"), "{text}");
}

#[test]
fn the_discriminator_picks_the_variant_wherever_it_is() {
    let first = json!({"eventType": "OrderShipped", "orderId": "o-1", "carrier": "dhl",
                       "trackingNumber": "T1", "shippedAt": "2026-12-02T10:00:00Z"});
    let last = json!({"orderId": "o-1", "carrier": "dhl", "trackingNumber": "T1",
                      "shippedAt": "2026-12-02T10:00:00Z", "eventType": "OrderShipped"});
    for value in [first, last] {
        let text = value.to_string();
        let message: orders::Message = serde_json::from_str(&text).unwrap();
        let orders::Message::OrderShipped(shipped) = &message else { panic!("wrong variant for {text}: {message:?}") };
        assert_eq!(shipped.tracking_number, "T1");
        assert_eq!(message.name(), "OrderShipped");
        // From a deserializer other than serde_json's reader too (a `Value`, and a reader over
        // escaped text, where nothing can be borrowed).
        assert_eq!(serde_json::from_value::<orders::Message>(value.clone()).unwrap(), message);
        let escaped = text.replace("dhl", "d\\u0068l");
        assert_eq!(serde_json::from_reader::<_, orders::Message>(escaped.as_bytes()).unwrap(), message);
    }
}

#[test]
fn an_unknown_or_missing_tag_is_an_error_never_a_wrong_variant() {
    let unknown = serde_json::from_str::<orders::Message>(r#"{"eventType":"OrderCancelled","orderId":"o-1"}"#);
    let error = unknown.unwrap_err().to_string();
    assert!(error.contains("OrderCancelled") && error.contains("OrderNew"), "{error}");

    let missing = serde_json::from_str::<orders::Message>(r#"{"orderId":"o-1"}"#).unwrap_err().to_string();
    assert!(missing.contains("eventType"), "{missing}");

    // A payload type checks its own constant: `OrderShipped` JSON is not an `OrderNew`.
    let wrong = json!({"eventType": "OrderShipped", "orderId": "o-1", "customerId": "c", "items": [],
                       "placedAt": "2026-12-01T09:30:00Z"});
    let error = serde_json::from_value::<orders::OrderNew>(wrong).unwrap_err().to_string();
    assert!(error.contains("OrderNew"), "{error}");
}

#[test]
fn decoding_by_name_goes_straight_to_the_type_and_refuses_unknown_names() {
    let payload = serde_json::to_vec(&order_new()).unwrap();
    let message: orders::Message = eventfold::decode_json("OrderNew", &payload).unwrap();
    assert_eq!(message, orders::Message::OrderNew(order_new()));
    let error = eventfold::decode_json::<orders::Message>("OrderLost", &payload).unwrap_err().to_string();
    assert!(error.contains("OrderLost"), "{error}");
    // The name must agree with the payload's own tag.
    assert!(eventfold::decode_json::<orders::Message>("OrderShipped", &payload).is_err());
    // Bytes that are not UTF-8, or text after the payload, are errors that say where.
    let mut bad = payload.clone();
    let at = bad.windows(3).position(|w| w == b"o-1").unwrap() + 1;
    bad[at] = 0xff;
    let error = eventfold::decode_json::<orders::Message>("OrderNew", &bad).unwrap_err().to_string();
    assert!(error.contains("invalid unicode") && error.contains("column"), "{error}");
    let mut trailing = payload.clone();
    trailing.extend_from_slice(b" {}");
    let error = eventfold::decode_json::<orders::Message>("OrderNew", &trailing).unwrap_err().to_string();
    assert!(error.contains("trailing characters"), "{error}");
}

#[test]
fn channel_constants_and_names() {
    assert_eq!(orders::CHANNEL, "EventSourceOrders");
    assert_eq!(orders::ADDRESS, "/orders");
    assert_eq!(<orders::Message as ChannelMessage>::ADDRESS, Some("/orders"));
    assert_eq!(
        <orders::Message as ChannelMessage>::NAMES,
        ["OrderNew", "OrderPaymentReceived", "OrderPreparing", "OrderShipped"]
    );
    assert_eq!(orders::OrderNew::EVENT_TYPE, "OrderNew");
    // The shipping service's document reuses the same channel through `$ref`.
    assert_eq!(<shipping::Message as ChannelMessage>::NAMES, <orders::Message as ChannelMessage>::NAMES);
}

#[test]
fn correlation_ids_come_from_the_declared_location() {
    let message = orders::Message::from(order_new());
    assert_eq!(message.correlation_id(&Default::default()).as_deref(), Some("o-1"));

    // `$message.payload#/user/id`, through a nested type.
    let created = user_events::Message::UserCreated(user_events::UserCreated {
        user: user_events::User { id: "u-9".to_owned(), email: None, roles: vec![] },
    });
    assert_eq!(created.correlation_id(&Default::default()).as_deref(), Some("u-9"));

    // `$message.header#/x-correlation-id`.
    let tree =
        tree_channel::Message::TreeChanged(tree_channel::Tree { value: 1, children: None, parent: None, meta: None });
    let mut headers = eventfold::Headers::new();
    assert_eq!(tree.correlation_id(&headers), None);
    headers.insert("x-correlation-id".to_owned(), json!("tree-7"));
    assert_eq!(tree.correlation_id(&headers).as_deref(), Some("tree-7"));

    // `$message.payload#/0/value`, through a list: read from the payload's JSON form.
    let forest =
        tree_channel::Message::Forest(vec![tree_channel::Tree { value: 42, children: None, parent: None, meta: None }]);
    assert_eq!(forest.correlation_id(&headers).as_deref(), Some("42"));
}

// --- awkward names ---------------------------------------------------------------------------

#[test]
fn awkward_names_keep_their_wire_spelling() {
    let value = json!({
        "kind": "type", "type": "t", "self": true, "Self": false, "crate": 7, "async": "a",
        "1st": 1, "": "empty", "größe": 1.5, "order-id": "a", "orderId": "b", "status": "in-review"
    });
    let Ok(user_events::Message::Type(parsed)) = serde_json::from_value::<user_events::Message>(value.clone()) else {
        panic!("did not decode as `type`");
    };
    assert_eq!(parsed.type_, "t");
    assert_eq!((parsed.self_, parsed.self_2), (Some(true), Some(false)));
    assert_eq!(parsed.crate_, Some(7));
    assert_eq!(parsed.async_.as_deref(), Some("a"));
    assert_eq!(parsed._1st, Some(1));
    assert_eq!(parsed.field.as_deref(), Some("empty"));
    assert_eq!(parsed.gr_e, Some(1.5));
    assert_eq!((parsed.order_id.as_deref(), parsed.order_id_2.as_deref()), (Some("a"), Some("b")));
    assert_eq!(parsed.status, user_events::TypeStatus::InReview);
    assert_eq!(serde_json::to_value(user_events::Message::Type(parsed)).unwrap(), value);
}

#[test]
fn enum_values_that_are_not_identifiers_map_both_ways() {
    use user_events::TypeStatus;
    for (variant, wire) in [
        (TypeStatus::InReview, "in-review"),
        (TypeStatus::V1, "1"),
        (TypeStatus::Empty, ""),
        (TypeStatus::Approved, "approved"),
        (TypeStatus::Approved2, "Approved"),
    ] {
        assert_eq!(serde_json::to_value(variant).unwrap(), json!(wire));
        assert_eq!(serde_json::from_value::<TypeStatus>(json!(wire)).unwrap(), variant);
        assert_eq!(variant.to_string(), wire);
    }
    assert!(serde_json::from_value::<TypeStatus>(json!("rejected")).is_err());
}

#[test]
fn message_keys_that_collide_get_distinct_variants() {
    // `user-created` and `UserCreated` are both `UserCreated` in PascalCase.
    assert_eq!(<user_events::Message as ChannelMessage>::NAMES, ["user-created", "UserCreated", "type"]);
    let v2 = json!({"kind": "UserCreated", "user": {"id": "u", "roles": []}});
    let message: user_events::Message = serde_json::from_value(v2).unwrap();
    assert!(matches!(message, user_events::Message::UserCreated2(_)));
    assert_eq!(message.name(), "UserCreated");
}

#[test]
fn recursive_schemas_are_boxed_and_round_trip() {
    let value = json!({"value": 1, "parent": {"value": 0}, "children": [{"value": 2, "children": []}],
                       "meta": {"any": ["thing", 1]}});
    let tree: tree_channel::Tree = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(tree.parent.as_ref().map(|p| p.value), Some(0));
    assert_eq!(serde_json::to_value(&tree).unwrap(), value);
}

#[test]
fn channels_without_a_discriminator_decode_by_name() {
    let forest = json!([{"value": 1}]).to_string();
    let message: tree_channel::Message = eventfold::decode_json("Forest", forest.as_bytes()).unwrap();
    assert!(matches!(message, tree_channel::Message::Forest(ref trees) if trees.len() == 1));
    let tree = json!({"value": 1}).to_string();
    let message: tree_channel::Message = eventfold::decode_json("TreeChanged", tree.as_bytes()).unwrap();
    assert!(matches!(message, tree_channel::Message::TreeChanged(_)));
    // A channel of one message needs no name at all.
    let ping: self_channel::Message = serde_json::from_str(r#""hello""#).unwrap();
    assert_eq!(ping, self_channel::Message::Ping("hello".to_owned()));
}

// --- examples --------------------------------------------------------------------------------

/// JSON equality that takes `8` and `8.0` as the same number, and a property that is `null` as
/// the same as one that is absent (an optional nullable field is `None` either way, and `None`
/// is not written).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            let present = |m: &serde_json::Map<String, Value>| m.iter().filter(|(_, v)| !v.is_null()).count();
            present(x) == present(y)
                && x.iter().all(|(k, v)| match y.get(k) {
                    Some(w) => same_json(v, w),
                    None => v.is_null(),
                })
        }
        _ => a == b,
    }
}

fn round_trip<M: ChannelMessage + std::fmt::Debug>(example: &eventfold_codegen::Example) -> Result<(), String> {
    let Some(payload) = &example.payload else { return Ok(()) };
    let message = M::deserialize_named(&example.message, payload).map_err(|e| format!("decode: {e}"))?;
    if message.name() != example.message {
        return Err(format!("decoded as {}", message.name()));
    }
    let encoded = serde_json::to_value(&message).map_err(|e| format!("encode: {e}"))?;
    if !same_json(&encoded, payload) {
        return Err(format!("encoded back as {encoded}"));
    }
    Ok(())
}

#[test]
fn every_example_round_trips_through_its_generated_type() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for spec in [
        "examples/orders/event-source.json",
        "tests/fixtures/awkward/asyncapi.yaml",
        "tests/fixtures/schemas/asyncapi.yaml",
        "tests/fixtures/v2/asyncapi.yaml",
    ] {
        for example in eventfold_codegen::examples(workspace().join(spec)).unwrap() {
            let result = match (spec, example.module.as_str()) {
                (s, "event_source_orders") if s.contains("orders") => round_trip::<orders::Message>(&example),
                (_, "shipments") => round_trip::<shapes::Message>(&example),
                (_, "orders_order_id") => round_trip::<v2::Message>(&example),
                (_, "user_events") => round_trip::<user_events::Message>(&example),
                (_, "tree_channel") => round_trip::<tree_channel::Message>(&example),
                (_, "self_") => round_trip::<self_channel::Message>(&example),
                (_, other) => Err(format!("no generated module `{other}` in this test")),
            };
            checked += 1;
            if let Err(why) = result {
                failures.push(format!("{} ({}): {why}", example.location, example.message));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(checked, 14, "every example of the fixtures was checked");
}

// --- stubs against a store -------------------------------------------------------------------

/// Collects what the generated `OrderHistory` consumer hands it.
struct History {
    seen: Vec<String>,
    done: Option<tokio::sync::oneshot::Sender<Vec<String>>>,
    expect: usize,
}

impl History {
    fn record(&mut self, what: String) {
        self.seen.push(what);
        if self.seen.len() == self.expect {
            if let Some(done) = self.done.take() {
                let _ = done.send(self.seen.clone());
            }
        }
    }
}

impl orders::OrderHistoryHandler for History {
    async fn order_new(
        &mut self,
        message: &orders::OrderNew,
        envelope: &Envelope<orders::Message>,
    ) -> Result<(), HandlerError> {
        self.record(format!("new {} v{}", message.order_id, envelope.stream_version));
        Ok(())
    }

    async fn order_payment_received(
        &mut self,
        message: &orders::OrderPaymentReceived,
        _: &Envelope<orders::Message>,
    ) -> Result<(), HandlerError> {
        self.record(format!("paid {} {}", message.amount, message.currency));
        Ok(())
    }

    async fn order_preparing(
        &mut self,
        message: &orders::OrderPreparing,
        _: &Envelope<orders::Message>,
    ) -> Result<(), HandlerError> {
        self.record(format!("preparing at {}", message.warehouse));
        Ok(())
    }

    async fn order_shipped(
        &mut self,
        message: &orders::OrderShipped,
        envelope: &Envelope<orders::Message>,
    ) -> Result<(), HandlerError> {
        let producer = envelope.headers.get("producer").and_then(Value::as_str).unwrap_or("?");
        self.record(format!("shipped {} by {producer}", message.tracking_number));
        Ok(())
    }
}

#[derive(Default, Debug, PartialEq)]
struct OrderState {
    paid: bool,
    warehouse: Option<String>,
    tracking: Option<String>,
}

impl eventfold::Aggregate for OrderState {
    type Message = orders::Message;

    fn apply(&mut self, envelope: &Envelope<orders::Message>) {
        match &envelope.message {
            orders::Message::OrderNew(_) => {}
            orders::Message::OrderPaymentReceived(_) => self.paid = true,
            orders::Message::OrderPreparing(p) => self.warehouse = Some(p.warehouse.clone()),
            orders::Message::OrderShipped(s) => self.tracking = Some(s.tracking_number.clone()),
        }
    }
}

#[tokio::test]
async fn publishers_and_consumers_work_end_to_end_on_a_store() {
    let store = MemoryStore::new();
    let headers = |producer: &str| orders::OrderEventHeaders { producer: producer.to_owned(), trace_id: None };

    let place = orders::PlaceOrderPublisher::new(store.clone());
    let progress = orders::RecordOrderProgressPublisher::new(store.clone());
    let ship = shipping::OrderShippedPublisher::new(store.clone());
    let first = place.order_new(order_new(), headers("orders")).await.unwrap();
    assert_eq!((first.stream_id.as_str(), first.stream_version), ("EventSourceOrders-o-1", 1));
    progress
        .order_payment_received(
            orders::OrderPaymentReceived {
                order_id: "o-1".to_owned(),
                amount: 20.0,
                currency: orders::OrderPaymentReceivedCurrency::Eur,
                method: orders::OrderPaymentReceivedMethod::Card,
            },
            headers("orders"),
        )
        .await
        .unwrap();
    progress
        .order_preparing(
            orders::OrderPreparing {
                order_id: "o-1".to_owned(),
                warehouse: "north-1".to_owned(),
                estimated_ship_date: None,
            },
            headers("orders"),
        )
        .await
        .unwrap();
    let last = ship
        .order_shipped(
            shipping::OrderShipped {
                order_id: "o-1".to_owned(),
                carrier: "dhl".to_owned(),
                tracking_number: "T-1".to_owned(),
                shipped_at: "2026-12-02T10:00:00Z".parse().unwrap(),
            },
            shipping::OrderEventHeaders { producer: "shipping".to_owned(), trace_id: None },
        )
        .await
        .unwrap();
    assert_eq!(last.stream_version, 4, "all four events are in the order's stream");

    let (done, seen) = tokio::sync::oneshot::channel();
    let handler = History { seen: Vec::new(), done: Some(done), expect: 4 };
    let subscription = TypedSubscription::<_, orders::Message>::new(store.clone(), StartFrom::Beginning);
    let consumer = tokio::spawn(orders::run_order_history(subscription, handler));
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), seen).await.unwrap().unwrap();
    consumer.abort();
    assert_eq!(seen, ["new o-1 v1", "paid 20 EUR", "preparing at north-1", "shipped T-1 by shipping"]);

    let (state, version): (OrderState, u64) = eventfold::replay(&store, "EventSourceOrders-o-1").await.unwrap();
    assert_eq!(version, 4);
    assert_eq!(
        state,
        OrderState { paid: true, warehouse: Some("north-1".to_owned()), tracking: Some("T-1".to_owned()) }
    );
}

/// The shipping service receives only `OrderPreparing`: its runner skips the rest.
struct Shipments(tokio::sync::mpsc::UnboundedSender<String>);

impl shipping::PrepareShipmentHandler for Shipments {
    async fn order_preparing(
        &mut self,
        message: &shipping::OrderPreparing,
        _: &Envelope<shipping::Message>,
    ) -> Result<(), HandlerError> {
        self.0.send(message.warehouse.clone()).map_err(|e| Box::new(e) as HandlerError)
    }
}

#[tokio::test]
async fn a_consumer_receives_only_its_operation_s_messages() {
    let store = MemoryStore::new();
    let place = orders::PlaceOrderPublisher::new(store.clone());
    let progress = orders::RecordOrderProgressPublisher::new(store.clone());
    let headers = orders::OrderEventHeaders { producer: "orders".to_owned(), trace_id: None };
    place.order_new(order_new(), headers.clone()).await.unwrap();
    progress
        .order_preparing(
            orders::OrderPreparing {
                order_id: "o-1".to_owned(),
                warehouse: "west".to_owned(),
                estimated_ship_date: None,
            },
            headers,
        )
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let subscription = TypedSubscription::<_, shipping::Message>::new(store, StartFrom::Beginning);
    let consumer = tokio::spawn(shipping::run_prepare_shipment(subscription, Shipments(tx)));
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.unwrap();
    consumer.abort();
    assert_eq!(got.as_deref(), Some("west"));
}

/// A handler error stops the runner with an error naming the stream and version.
struct Failing;

impl shipping::PrepareShipmentHandler for Failing {
    async fn order_preparing(
        &mut self,
        _: &shipping::OrderPreparing,
        _: &Envelope<shipping::Message>,
    ) -> Result<(), HandlerError> {
        Err("warehouse closed".into())
    }
}

#[tokio::test]
async fn a_failing_handler_stops_the_runner_with_the_event_s_position() {
    let store = MemoryStore::new();
    let progress = orders::RecordOrderProgressPublisher::new(store.clone());
    let headers = orders::OrderEventHeaders { producer: "orders".to_owned(), trace_id: None };
    progress
        .order_preparing(
            orders::OrderPreparing {
                order_id: "o-2".to_owned(),
                warehouse: "west".to_owned(),
                estimated_ship_date: None,
            },
            headers,
        )
        .await
        .unwrap();
    let subscription = TypedSubscription::<_, shipping::Message>::new(store, StartFrom::Beginning);
    let error = shipping::run_prepare_shipment(subscription, Failing).await.unwrap_err().to_string();
    assert!(
        error.contains("EventSourceOrders-o-2") && error.contains("version 1") && error.contains("warehouse closed"),
        "{error}"
    );
}

// --- the rest of JSON Schema ------------------------------------------------------------------

#[test]
fn a_oneof_told_apart_by_a_constant_is_a_tagged_enum() {
    let left = json!({"kind": "left", "carrier": "dhl"});
    let change: shapes::Change = serde_json::from_value(left.clone()).unwrap();
    assert_eq!(change, shapes::Change::Left(shapes::Left { carrier: "dhl".to_owned() }));
    assert_eq!(serde_json::to_value(&change).unwrap(), left);
    // The tag picks the alternative even when it comes last, and an unknown tag is an error.
    let packed: shapes::Change = serde_json::from_str(r#"{"boxes":2,"kind":"packed"}"#).unwrap();
    assert_eq!(packed, shapes::Change::Packed(shapes::Packed { boxes: 2 }));
    let error = serde_json::from_str::<shapes::Change>(r#"{"kind":"lost"}"#).unwrap_err().to_string();
    assert!(error.contains("lost") && error.contains("packed"), "{error}");
}

#[test]
fn formats_tuples_type_lists_and_pattern_properties() {
    let value = json!({"reading": [1.5, "celsius", true], "value": 3, "labels": {"x-a": "b"},
                       "window": {"from": "2026-12-01"}});
    let m: shapes::Measurement = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(m.reading, (1.5, "celsius".to_owned(), true));
    assert_eq!(m.value, shapes::MeasurementValue::Integer(3));
    assert_eq!(m.labels.as_ref().and_then(|l| l.get("x-a")).map(String::as_str), Some("b"));
    let window = m.window.clone().unwrap();
    assert_eq!(window.from.map(|d| d.to_string()).as_deref(), Some("2026-12-01"));
    assert_eq!(serde_json::to_value(&m).unwrap(), value);
    let text: shapes::MeasurementValue = serde_json::from_value(json!("n/a")).unwrap();
    assert_eq!(text, shapes::MeasurementValue::String("n/a".to_owned()));
    // A malformed date is a decode error, not a panic.
    assert!(serde_json::from_value::<shapes::MeasurementWindow>(json!({"from": "2026-02-30"})).is_err());
}

#[test]
fn defaults_are_checked_at_generation_and_offered_beside_the_field() {
    let event: shapes::ShipmentEvent = serde_json::from_value(json!({
        "shipmentId": "3f0a6b7e-8f0e-4d7c-9a55-6b1f2c3d4e5f", "at": "2026-12-01T10:00:00Z",
        "change": {"kind": "packed", "boxes": 1}
    }))
    .unwrap();
    assert_eq!(event.priority, None, "an absent field stays absent: the wire form is kept");
    assert_eq!(event.priority_or_default(), shapes::ShipmentEventPriority::Normal);
    assert_eq!(event.attempts_or_default(), 1);
    assert!(!event.fragile_or_default());
    assert_eq!(event.note_or_default(), "none");
    assert_eq!(event.shipment_id.to_string(), "3f0a6b7e-8f0e-4d7c-9a55-6b1f2c3d4e5f");
}

#[test]
fn a_default_that_does_not_fit_is_not_offered_and_the_docs_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad-default.yaml");
    std::fs::write(
        &spec,
        "asyncapi: 3.0.0\ninfo: {title: t, version: '1'}\nchannels:\n  c:\n    messages:\n      m:\n        payload:\n          type: object\n          properties:\n            level: {type: string, enum: [low, high], default: medium}\n            deprecated: {type: boolean, default: 'false'}\n            retries: {type: integer, default: 3}\n",
    )
    .unwrap();
    let code = eventfold_codegen::generate(&spec).unwrap().code;
    assert!(code.contains("The schema's default `medium` is not one of its values, so none is offered."), "{code}");
    assert!(code.contains(r#"The schema's default `"false"` does not fit the type, so none is offered."#), "{code}");
    assert!(!code.contains("fn level_or_default") && !code.contains("fn deprecated_or_default"), "{code}");
    assert!(code.contains("pub fn retries_or_default(&self) -> i64"), "the fitting default is still offered");
}

#[test]
fn channel_parameters_fill_the_address_escaped() {
    assert_eq!(shapes::ADDRESS, "warehouses/{warehouseId}/shipments/{shipmentId}");
    assert_eq!(shapes::address("north-1", "s/1 2"), "warehouses/north-1/shipments/s%2F1%202");
    assert_eq!(v2::address("o-1"), "orders/o-1");
}

#[test]
fn avro_payloads_become_types() {
    let value = json!({"id": 7, "level": "HIGH", "children": [{"id": 8, "level": "LOW", "children": []}]});
    let legacy: shapes::Legacy = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(legacy.level, shapes::Level::High);
    assert_eq!(legacy.children[0].id, 8);
    assert_eq!(serde_json::to_value(&legacy).unwrap(), value);
}

#[tokio::test]
async fn a_2x_document_becomes_channels_messages_and_operations() {
    assert_eq!(<v2::Message as ChannelMessage>::CHANNEL, "orders/{orderId}");
    assert_eq!(<v2::Message as ChannelMessage>::NAMES, ["OrderCreated", "OrderCancelled"]);
    // `type` is a constant in both messages: the channel is discriminated by it.
    let message: v2::Message = serde_json::from_str(r#"{"type":"cancelled","orderId":"o-2"}"#).unwrap();
    assert!(matches!(message, v2::Message::OrderCancelled(_)));
    // The message trait's correlation id applies.
    let created = v2::Message::OrderCreated(v2::OrderCreated { order_id: "o-1".to_owned(), total: 1.0 });
    assert_eq!(created.correlation_id(&Default::default()).as_deref(), Some("o-1"));
    // `subscribe` means the application sends: a publisher of `OrderCreated`.
    let store = MemoryStore::new();
    let receipt = v2::SendOrderCreatedPublisher::new(store.clone())
        .order_created(v2::OrderCreated { order_id: "o-9".to_owned(), total: 2.0 })
        .await
        .unwrap();
    assert_eq!(receipt.stream_id, "orders/{orderId}-o-9");
    // `publish` means it receives: a handler of both messages of the oneOf.
    struct Both(Vec<String>);
    impl v2::ReceiveOrderEventsHandler for Both {
        async fn order_created(&mut self, m: &v2::OrderCreated, _: &Envelope<v2::Message>) -> Result<(), HandlerError> {
            self.0.push(m.order_id.clone());
            Err("stop".into())
        }
        async fn order_cancelled(
            &mut self,
            m: &v2::OrderCancelled,
            _: &Envelope<v2::Message>,
        ) -> Result<(), HandlerError> {
            self.0.push(m.order_id.clone());
            Ok(())
        }
    }
    let subscription = TypedSubscription::<_, v2::Message>::new(store, StartFrom::Beginning);
    let error = v2::run_receive_order_events(subscription, Both(Vec::new())).await.unwrap_err();
    assert!(error.to_string().contains("orders/{orderId}-o-9"), "{error}");
}

// --- request / reply -------------------------------------------------------------------------

/// Answers every quote request with a price.
struct Pricer;

impl quotes::AnswerQuotesHandler for Pricer {
    async fn quote_request(
        &mut self,
        message: &quotes::QuoteRequest,
        _: &Envelope<quotes::Message>,
    ) -> Result<quote_replies::Message, HandlerError> {
        Ok(quote_replies::Message::Quote(quote_replies::Quote { sku: message.sku.clone(), price: 9.5 }))
    }
}

#[tokio::test]
async fn a_request_gets_the_reply_its_handler_returns() {
    let store = MemoryStore::new();
    let requests = TypedSubscription::<_, quotes::Message>::new(store.clone(), StartFrom::Beginning);
    let responder = tokio::spawn(quotes::run_answer_quotes(requests, Pricer, store.clone()));

    let requester = quotes::RequestQuotePublisher::new(store.clone());
    let request = requester.request_quote_request(quotes::QuoteRequest { sku: "BOOK-42".to_owned() });
    let reply = tokio::time::timeout(std::time::Duration::from_secs(10), request).await.unwrap().unwrap();
    responder.abort();
    assert_eq!(
        reply.message,
        quote_replies::Message::Quote(quote_replies::Quote { sku: "BOOK-42".to_owned(), price: 9.5 })
    );
    // The reply carries the request's correlation id, and the request's event id as causation.
    assert_eq!(reply.correlation_id.as_deref(), Some("BOOK-42"));
    let stored = eventfold::EventStore::read_all(&store, 0, 10).await.unwrap();
    assert_eq!(reply.causation_id, Some(stored[0].event_id.to_string()));
}

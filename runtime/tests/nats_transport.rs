//! The NATS transport: generated-publisher-style sends over core NATS, decoded by name
//! (`EVENTFOLD_NATS_URL`).

mod common;

use common::{nats, within, Counter};
use eventfold::transport::nats::{subject_for, NatsTransport};
use eventfold::{Error, SendOptions, Sink, Subscription};

#[test]
fn nats_transport_subjects_come_from_addresses() {
    let none = |_: &str| None;
    assert_eq!(subject_for(Some("/orders"), "EventSourceOrders", none), "orders");
    assert_eq!(subject_for(Some("orders.created"), "C", none), "orders.created");
    assert_eq!(subject_for(Some("/orders/{orderId}/events"), "C", none), "orders.*.events");
    assert_eq!(
        subject_for(Some("/orders/{orderId}/events"), "C", |p| Some(format!("{p} 42.x"))),
        "orders.orderId_2042_2Ex.events"
    );
    assert_eq!(subject_for(Some("/a b/"), "C", none), "a_20b");
    assert_eq!(subject_for(Some("/"), "EventSourceOrders", none), "EventSourceOrders");
    assert_eq!(subject_for(None, "Event Source", none), "Event_20Source");
    assert_eq!(NatsTransport::subject_pattern::<Counter>(), "counters");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_transport_publishes_and_consumes_by_message_name() {
    let url = nats::url();
    let transport = match NatsTransport::connect(&url).await {
        Ok(transport) => transport,
        Err(error) => panic!("cannot connect to NATS at EVENTFOLD_NATS_URL={url}: {error}"),
    };
    // A unique subject per run, so concurrent runs do not see each other's messages.
    let subject = format!("counters_{}", eventfold::uuid::Uuid::now_v7().simple());
    let mut received = transport.subscribe_to::<Counter>(subject.clone()).await.unwrap();
    let publisher = transport.clone();
    let mut headers = eventfold::Headers::new();
    headers.insert("producer".to_owned(), "tests ✓".into());
    let options = SendOptions { headers, causation_id: Some("cmd-1".to_owned()), ..SendOptions::default() };
    // `Sink::send` publishes on the channel's subject, `counters`.
    let mut channel_messages = transport.subscribe::<Counter>().await.unwrap();
    let receipt = publisher.send(Counter::added("c1", 5), options.clone()).await.unwrap();
    assert_eq!(receipt.stream_id, "Counters-c1");
    let mut envelope = None;
    // Other runs may publish on `counters` too: find ours by event id.
    for _ in 0..100 {
        let got = within(channel_messages.next()).await.unwrap().unwrap();
        if got.event_id == receipt.event_id {
            envelope = Some(got);
            break;
        }
    }
    let envelope = envelope.expect("the sent message arrives");
    assert_eq!(envelope.message, Counter::added("c1", 5));
    assert_eq!(envelope.message_name, "Added");
    assert_eq!(envelope.stream_id, "Counters-c1");
    assert_eq!(envelope.correlation_id.as_deref(), Some("c1"));
    assert_eq!(envelope.causation_id.as_deref(), Some("cmd-1"));
    assert_eq!(envelope.headers["producer"], "tests ✓");

    // Raw messages on the private subject: decoded by the name header, unknown names are errors.
    let client = transport.client();
    let mut raw = eventfold::store::nats::async_nats::HeaderMap::new();
    raw.insert("Eventfold-Message", "Reset");
    raw.insert("Eventfold-Event-Id", eventfold::uuid::Uuid::now_v7().to_string());
    client.publish_with_headers(subject.clone(), raw, r#"{"counter":"c2"}"#.into()).await.unwrap();
    let mut unknown = eventfold::store::nats::async_nats::HeaderMap::new();
    unknown.insert("Eventfold-Message", "Renamed");
    client.publish_with_headers(subject.clone(), unknown, r#"{"counter":"c2"}"#.into()).await.unwrap();
    client.publish(subject.clone(), r#"{"counter":"c2"}"#.into()).await.unwrap();
    client.flush().await.unwrap();
    let reset = within(received.next()).await.unwrap().unwrap();
    assert_eq!(reset.message, Counter::reset("c2"));
    assert!(
        matches!(within(received.next()).await.unwrap(), Err(Error::UnknownMessage { message_name, .. }) if message_name == "Renamed")
    );
    assert!(matches!(within(received.next()).await.unwrap(), Err(Error::Corrupt { .. })));
}

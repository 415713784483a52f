//! Storage events (MinIO, RustFS, S3, SNS, EventBridge) parsed into one shape.
//!
//! With `RECORDING_STORAGE_EVENT_ENABLE`, a recording is saved when the object storage
//! says its file exists, not when the egress says it has ended. Every storage sends that
//! news in its own envelope: MinIO and RustFS post `{"EventName","Key","Records":[…]}`
//! webhooks, AWS S3 sends `{"Records":[…]}` directly (SQS, Lambda), wrapped in an SNS
//! envelope, or as an EventBridge event. [`parse`] turns the format the operator chose
//! (`RECORDING_EVENT_PARSER_CLASS`) into [`ObjectEvent`]s with a decoded key, and
//! [`classify`] decides, in the reference's order (bucket first, then key pattern and
//! content type), whether an event is about one of our recordings. The module does no
//! I/O and never panics on hostile input: anything it cannot read is a [`ParseError`],
//! which the storage hook answers with 403 "Invalid request data.".

use serde_json::{Map, Value};
use url::form_urlencoded;
use uuid::Uuid;

use crate::config::EventParser;

/// One object-created event, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub bucket: String,
    /// The object key, decoded (form-urlencoded `+`/`%2F` → space/slash; raw keys kept).
    pub key: String,
    pub content_type: Option<String>,
    pub size: Option<u64>,
    /// e.g. "s3:ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload", "Object Created".
    pub event_name: String,
}

/// What a notification body contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Object-created events (usually one).
    Objects(Vec<ObjectEvent>),
    /// An SNS SubscriptionConfirmation: the operator must visit this URL (we never fetch it ourselves).
    SubscriptionConfirmation {
        topic_arn: String,
        subscribe_url: String,
    },
    /// Something to acknowledge and ignore (S3 TestEvent, non-"created" events like
    /// ObjectRemoved, SNS UnsubscribeConfirmation...).
    Ignored(&'static str),
}

/// Why a body could not be read. The messages are meant for the operator (the hook
/// returns them as the `reason` of its 403); strings taken from the body are shortened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0} is missing")]
    MissingField(String),
    #[error("{field} must be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("Records is empty")]
    NoRecords,
    #[error("unknown SNS message Type {0:?}")]
    UnknownSnsType(String),
    #[error("SNS Message: {0}")]
    SnsMessage(Box<ParseError>),
    #[error(
        "the body looks like {looks_like}, but the configured format is {configured} \
         (RECORDING_EVENT_PARSER_CLASS)"
    )]
    WrongFormat {
        configured: &'static str,
        looks_like: &'static str,
    },
}

/// What an object event means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relevance {
    /// `{output_folder}/{uuid}.{mp4|ogg}` found anywhere in the key (a prefix before the
    /// folder is allowed, e.g. "a/b/recordings/<uuid>.mp4").
    Recording { id: Uuid, extension: String },
    /// The egress manifest (`.json`), other extensions, other folders, not a UUID, wrong
    /// content type: ignored, with the reason.
    Ignored(&'static str),
}

/// The event's bucket is not ours (the hook answers 403 "Invalid bucket specified.").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bucket {0:?}")]
pub struct WrongBucket(pub String);

/// Content types a recording may be stored with (reference §3.5).
const RECORDING_CONTENT_TYPES: [&str; 2] = ["audio/ogg", "video/mp4"];

type Object = Map<String, Value>;

/// Parses a notification body in the configured format.
pub fn parse(format: EventParser, body: &[u8]) -> Result<Parsed, ParseError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| ParseError::InvalidJson(e.to_string()))?;
    let root = as_object(&root, "the body")?;
    match format {
        EventParser::Minio => parse_records(root, format, true),
        EventParser::S3 => parse_records(root, format, false),
        EventParser::AwsSns => parse_sns(root),
        EventParser::EventBridge => parse_eventbridge(root),
    }
}

/// Checks the bucket against `expected_bucket` first (Err(WrongBucket) — the handler
/// answers 403 "Invalid bucket specified."), then the key pattern and, when the event
/// carries a content type, that it is audio/ogg or video/mp4.
///
/// The key must end with `{output_folder}/{uuid}.{mp4|ogg}`, where anything before the
/// folder is a whole number of path segments (`a/b/recordings/…`, not `xrecordings/…`)
/// and the UUID is in its canonical lowercase hyphenated form (the form our object keys
/// are written with). Unlike the reference, the match is anchored at the end, so
/// `….mp4.part` is not a recording.
pub fn classify(
    event: &ObjectEvent,
    expected_bucket: &str,
    output_folder: &str,
) -> Result<Relevance, WrongBucket> {
    if event.bucket != expected_bucket {
        return Err(WrongBucket(event.bucket.clone()));
    }
    Ok(classify_key(
        &event.key,
        event.content_type.as_deref(),
        output_folder,
    ))
}

fn classify_key(key: &str, content_type: Option<&str>, output_folder: &str) -> Relevance {
    let folder = output_folder.trim_matches('/');
    let (dir, file) = key.rsplit_once('/').unwrap_or(("", key));
    if file.ends_with(".json") {
        return Relevance::Ignored("egress manifest (.json), not a recording file");
    }
    let Some((stem, extension)) = file.split_once('.') else {
        return Relevance::Ignored("no file extension");
    };
    if !matches!(extension, "mp4" | "ogg") {
        return Relevance::Ignored("not a recording file extension (.mp4 or .ogg)");
    }
    let in_folder = dir == folder
        || dir
            .strip_suffix(folder)
            .is_some_and(|prefix| prefix.ends_with('/'));
    if !in_folder {
        return Relevance::Ignored("outside the recordings folder");
    }
    let id = match Uuid::try_parse(stem) {
        Ok(id) if id.hyphenated().to_string() == stem => id,
        _ => return Relevance::Ignored("the file name is not a recording id"),
    };
    if let Some(content_type) = content_type {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !RECORDING_CONTENT_TYPES
            .iter()
            .any(|allowed| essence.eq_ignore_ascii_case(allowed))
        {
            return Relevance::Ignored("content type is not audio/ogg or video/mp4");
        }
    }
    Relevance::Recording {
        id,
        extension: extension.to_owned(),
    }
}

/// Decodes an object key sent form-urlencoded (Go's `url.QueryEscape` in MinIO and
/// RustFS, AWS's encoding): `+` → space, `%XX` → byte.
///
/// A key that cannot be form-urlencoded is kept as it is: one containing `/` (MinIO and
/// RustFS escape it as `%2F`; Ceph RGW sends raw keys), `&` or `=` (escaped by every
/// encoder), a `%` not followed by two hex digits, or escapes that decode to invalid
/// UTF-8. Trade-off: AWS leaves `/` unescaped, so an AWS key with both `/` and `+` or
/// `%XX` keeps its escapes; recording keys (`folder/<uuid>.mp4`) contain neither.
fn decode_key(raw: &str) -> String {
    if raw.contains(['/', '&', '=']) || !has_valid_escapes(raw) {
        return raw.to_owned();
    }
    // Without `&` and `=` the whole key is the name of exactly one pair.
    let Some((decoded, _)) = form_urlencoded::parse(raw.as_bytes()).next() else {
        return raw.to_owned();
    };
    // `parse` decodes lossily: invalid UTF-8 becomes U+FFFD. Any U+FFFD beyond the ones
    // the key spelled out (literally or as `%EF%BF%BD`) means the escapes were not UTF-8.
    let spelled =
        raw.matches('\u{FFFD}').count() + raw.to_ascii_uppercase().matches("%EF%BF%BD").count();
    if decoded.matches('\u{FFFD}').count() != spelled {
        return raw.to_owned();
    }
    decoded.into_owned()
}

fn has_valid_escapes(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.iter().enumerate().all(|(i, &byte)| {
        byte != b'%'
            || matches!(
                (bytes.get(i + 1), bytes.get(i + 2)),
                (Some(high), Some(low)) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit()
            )
    })
}

fn is_created(event_name: &str) -> bool {
    event_name.to_ascii_lowercase().contains("objectcreated")
}

// ---------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------

/// MinIO/RustFS webhooks and AWS S3 direct: `{"Records":[…]}`, MinIO adding top-level
/// `EventName` and `Key` (`bucket/name`, not encoded).
fn parse_records(root: &Object, format: EventParser, minio: bool) -> Result<Parsed, ParseError> {
    let Some(records) = present(root, "Records") else {
        if string_at(root, "Event", "Event")? == Some("s3:TestEvent") {
            return Ok(Parsed::Ignored("S3 test event"));
        }
        return Err(wrong_format_or(root, format, "Records"));
    };
    let records = records
        .as_array()
        .ok_or_else(|| wrong_type("Records", "an array"))?;
    if records.is_empty() {
        return Err(ParseError::NoRecords);
    }
    let (top_key, top_event_name) = if minio {
        (
            string_at(root, "Key", "Key")?,
            string_at(root, "EventName", "EventName")?,
        )
    } else {
        (None, None)
    };
    let mut events = Vec::new();
    for (index, record) in records.iter().enumerate() {
        // The top-level fields describe the one record MinIO sends.
        let fallback = if index == 0 {
            (top_key, top_event_name)
        } else {
            (None, None)
        };
        if let Some(event) = parse_s3_record(record, index, fallback.0, fallback.1)? {
            events.push(event);
        }
    }
    if events.is_empty() {
        Ok(Parsed::Ignored("not an object-created event"))
    } else {
        Ok(Parsed::Objects(events))
    }
}

/// One S3 event record; `None` when it is not an object-created event (the rest of such
/// a record is not checked).
fn parse_s3_record(
    record: &Value,
    index: usize,
    fallback_key: Option<&str>,
    fallback_event_name: Option<&str>,
) -> Result<Option<ObjectEvent>, ParseError> {
    let path = format!("Records[{index}]");
    let record = as_object(record, &path)?;
    let event_name = string_at(record, "eventName", &format!("{path}.eventName"))?
        .or(fallback_event_name)
        .ok_or_else(|| ParseError::MissingField(format!("{path}.eventName")))?;
    if !is_created(event_name) {
        return Ok(None);
    }
    let s3 = object_at(record, "s3", &format!("{path}.s3"))?;
    let bucket = object_at(s3, "bucket", &format!("{path}.s3.bucket"))?;
    let bucket = non_empty(bucket, "name", &format!("{path}.s3.bucket.name"))?;
    let object_path = format!("{path}.s3.object");
    let object = object_at(s3, "object", &object_path)?;
    let key_path = format!("{object_path}.key");
    let key = match string_at(object, "key", &key_path)? {
        Some("") => return Err(wrong_type(&key_path, "a non-empty string")),
        Some(key) => decode_key(key),
        // MinIO's top-level `Key` is `bucket/name`, already decoded.
        None => fallback_key
            .and_then(|key| key.strip_prefix(bucket)?.strip_prefix('/'))
            .filter(|key| !key.is_empty())
            .ok_or(ParseError::MissingField(key_path))?
            .to_owned(),
    };
    Ok(Some(ObjectEvent {
        bucket: bucket.to_owned(),
        key,
        content_type: string_at(object, "contentType", &format!("{object_path}.contentType"))?
            .filter(|content_type| !content_type.is_empty())
            .map(str::to_owned),
        size: size_at(object, &format!("{object_path}.size"))?,
        event_name: event_name.to_owned(),
    }))
}

/// SNS to HTTP(S): `Type` + `Message` (the S3 JSON as a string). Raw message delivery
/// (the S3 JSON without envelope) is refused: it carries no signature to verify later.
fn parse_sns(root: &Object) -> Result<Parsed, ParseError> {
    let Some(kind) = string_at(root, "Type", "Type")? else {
        return Err(wrong_format_or(root, EventParser::AwsSns, "Type"));
    };
    match kind {
        "Notification" => {
            let message =
                string_at(root, "Message", "Message")?.ok_or_else(|| missing("Message"))?;
            let inner = serde_json::from_str::<Value>(message)
                .map_err(|e| ParseError::InvalidJson(e.to_string()))
                .and_then(|value| {
                    let message = as_object(&value, "the message")?;
                    parse_records(message, EventParser::S3, false)
                });
            inner.map_err(|error| ParseError::SnsMessage(Box::new(error)))
        }
        "SubscriptionConfirmation" => Ok(Parsed::SubscriptionConfirmation {
            topic_arn: non_empty(root, "TopicArn", "TopicArn")?.to_owned(),
            subscribe_url: non_empty(root, "SubscribeURL", "SubscribeURL")?.to_owned(),
        }),
        "UnsubscribeConfirmation" => Ok(Parsed::Ignored("SNS unsubscribe confirmation")),
        other => Err(ParseError::UnknownSnsType(shorten(other))),
    }
}

/// EventBridge: `{"detail-type":"Object Created","source":"aws.s3","detail":{…}}`.
fn parse_eventbridge(root: &Object) -> Result<Parsed, ParseError> {
    let Some(detail_type) = string_at(root, "detail-type", "detail-type")? else {
        return Err(wrong_format_or(
            root,
            EventParser::EventBridge,
            "detail-type",
        ));
    };
    let source = string_at(root, "source", "source")?.ok_or_else(|| missing("source"))?;
    if source != "aws.s3" {
        return Ok(Parsed::Ignored("EventBridge event not from aws.s3"));
    }
    if detail_type != "Object Created" {
        return Ok(Parsed::Ignored("EventBridge event is not Object Created"));
    }
    let detail = object_at(root, "detail", "detail")?;
    let bucket = object_at(detail, "bucket", "detail.bucket")?;
    let bucket = non_empty(bucket, "name", "detail.bucket.name")?;
    let object = object_at(detail, "object", "detail.object")?;
    // Assumption: like the S3 notification records, EventBridge's `detail.object.key` is
    // form-urlencoded (AWS documents the encoding for notifications; the EventBridge
    // shape comes from public examples). Recording keys decode to themselves either way.
    let key = decode_key(non_empty(object, "key", "detail.object.key")?);
    Ok(Parsed::Objects(vec![ObjectEvent {
        bucket: bucket.to_owned(),
        key,
        content_type: None,
        size: size_at(object, "detail.object.size")?,
        event_name: detail_type.to_owned(),
    }]))
}

// ---------------------------------------------------------------------------------------
// JSON helpers: absent and null are the same; anything else of the wrong type is an error.
// ---------------------------------------------------------------------------------------

fn present<'a>(object: &'a Object, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|value| !value.is_null())
}

fn missing(path: &str) -> ParseError {
    ParseError::MissingField(path.to_owned())
}

fn wrong_type(path: &str, expected: &'static str) -> ParseError {
    ParseError::WrongType {
        field: path.to_owned(),
        expected,
    }
}

fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Object, ParseError> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(path, "a JSON object"))
}

fn object_at<'a>(object: &'a Object, name: &str, path: &str) -> Result<&'a Object, ParseError> {
    as_object(present(object, name).ok_or_else(|| missing(path))?, path)
}

fn string_at<'a>(
    object: &'a Object,
    name: &str,
    path: &str,
) -> Result<Option<&'a str>, ParseError> {
    present(object, name)
        .map(|value| value.as_str().ok_or_else(|| wrong_type(path, "a string")))
        .transpose()
}

fn non_empty<'a>(object: &'a Object, name: &str, path: &str) -> Result<&'a str, ParseError> {
    match string_at(object, name, path)? {
        None => Err(missing(path)),
        Some("") => Err(wrong_type(path, "a non-empty string")),
        Some(value) => Ok(value),
    }
}

fn size_at(object: &Object, path: &str) -> Result<Option<u64>, ParseError> {
    present(object, "size")
        .map(|value| {
            value
                .as_u64()
                .ok_or_else(|| wrong_type(path, "a non-negative integer below 2^64"))
        })
        .transpose()
}

fn format_name(format: EventParser) -> &'static str {
    match format {
        EventParser::Minio => "minio",
        EventParser::S3 => "s3",
        EventParser::AwsSns => "aws-sns",
        EventParser::EventBridge => "eventbridge",
    }
}

/// `MissingField(field)`, or a hint when the body is obviously another format.
fn wrong_format_or(root: &Object, configured: EventParser, field: &str) -> ParseError {
    let looks_like = if root.contains_key("Type") && root.contains_key("Message") {
        Some("an SNS envelope")
    } else if root.contains_key("detail-type") {
        Some("an EventBridge event")
    } else if root.contains_key("Records") {
        Some("an S3/MinIO Records event (SNS raw message delivery is not supported)")
    } else {
        None
    };
    match looks_like {
        Some(looks_like) => ParseError::WrongFormat {
            configured: format_name(configured),
            looks_like,
        },
        None => missing(field),
    }
}

/// A string from the body, shortened for an error message.
fn shorten(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const BUCKET: &str = "meet-media-storage";
    const ID: &str = "3f6c2b8e-9a41-4d2e-8b7f-0c5d1e2a4b6c";

    fn id() -> Uuid {
        Uuid::parse_str(ID).unwrap()
    }

    fn bytes(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    fn objects(parsed: Result<Parsed, ParseError>) -> Vec<ObjectEvent> {
        match parsed {
            Ok(Parsed::Objects(events)) => events,
            other => panic!("expected objects, got {other:?}"),
        }
    }

    fn event(key: &str, content_type: Option<&str>) -> ObjectEvent {
        ObjectEvent {
            bucket: BUCKET.into(),
            key: key.into(),
            content_type: content_type.map(Into::into),
            size: Some(1),
            event_name: "s3:ObjectCreated:Put".into(),
        }
    }

    fn recording(extension: &str) -> Relevance {
        Relevance::Recording {
            id: id(),
            extension: extension.into(),
        }
    }

    /// A MinIO webhook body, built from the field list of the MinIO webhook target.
    fn minio_body(event_name: &str, encoded_key: &str, decoded_key: &str) -> Value {
        json!({
            "EventName": event_name,
            "Key": format!("{BUCKET}/{decoded_key}"),
            "Records": [{
                "eventVersion": "2.0",
                "eventSource": "minio:s3",
                "awsRegion": "",
                "eventTime": "2025-03-14T09:26:53.589Z",
                "eventName": event_name,
                "userIdentity": {"principalId": "meet"},
                "requestParameters": {
                    "principalId": "meet",
                    "region": "",
                    "sourceIPAddress": "172.18.0.7"
                },
                "responseElements": {
                    "x-amz-id-2": "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8",
                    "x-amz-request-id": "182C7D3A1F5E4B20",
                    "x-minio-deployment-id": "6b3c0a4e-1d2f-4c5b-9e8a-7f6d5c4b3a21",
                    "x-minio-origin-endpoint": "http://172.18.0.3:9000"
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "Config",
                    "bucket": {
                        "name": BUCKET,
                        "ownerIdentity": {"principalId": "meet"},
                        "arn": format!("arn:aws:s3:::{BUCKET}")
                    },
                    "object": {
                        "key": encoded_key,
                        "size": 52_428_800_u64,
                        "eTag": "9b2cf535f27731c974343645a3985328-7",
                        "contentType": "video/mp4",
                        "userMetadata": {"content-type": "video/mp4"},
                        "versionId": "",
                        "sequencer": "182C7D3A2B9C1F44"
                    }
                },
                "source": {
                    "host": "172.18.0.9",
                    "port": "",
                    "userAgent": "MinIO (linux; amd64) minio-go/v7.0.70"
                }
            }]
        })
    }

    fn aws_record(event_name: &str, key: &str) -> Value {
        json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "eu-west-3",
            "eventTime": "2025-03-14T09:26:53.589Z",
            "eventName": event_name,
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.7"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "recordings",
                "bucket": {
                    "name": BUCKET,
                    "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                    "arn": format!("arn:aws:s3:::{BUCKET}")
                },
                "object": {
                    "key": key,
                    "size": 1024,
                    "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                    "versionId": "096fKKXTRTtl3on89fVO.nfljtsv6qko",
                    "sequencer": "0055AED6DCD90281E5"
                }
            }
        })
    }

    #[test]
    fn minio_complete_multipart_upload() {
        let key = format!("recordings/{ID}.mp4");
        let body = minio_body(
            "s3:ObjectCreated:CompleteMultipartUpload",
            &format!("recordings%2F{ID}.mp4"),
            &key,
        );
        let events = objects(parse(EventParser::Minio, &bytes(&body)));
        assert_eq!(
            events,
            vec![ObjectEvent {
                bucket: BUCKET.into(),
                key,
                content_type: Some("video/mp4".into()),
                size: Some(52_428_800),
                event_name: "s3:ObjectCreated:CompleteMultipartUpload".into(),
            }]
        );
        assert_eq!(
            classify(&events[0], BUCKET, "recordings"),
            Ok(recording("mp4"))
        );
    }

    #[test]
    fn minio_falls_back_to_the_top_level_key() {
        let mut body = minio_body(
            "s3:ObjectCreated:Put",
            "unused",
            &format!("recordings/{ID}.ogg"),
        );
        body["Records"][0]["s3"]["object"]
            .as_object_mut()
            .unwrap()
            .remove("key");
        let events = objects(parse(EventParser::Minio, &bytes(&body)));
        assert_eq!(events[0].key, format!("recordings/{ID}.ogg"));

        // A top-level key for another bucket is no fallback.
        body["Key"] = json!(format!("other/recordings/{ID}.ogg"));
        assert_eq!(
            parse(EventParser::Minio, &bytes(&body)),
            Err(ParseError::MissingField("Records[0].s3.object.key".into()))
        );
    }

    #[test]
    fn minio_without_wrapper_parses() {
        let mut body = minio_body(
            "s3:ObjectCreated:Put",
            &format!("recordings%2F{ID}.mp4"),
            "",
        );
        let object = body.as_object_mut().unwrap();
        object.remove("EventName");
        object.remove("Key");
        let events = objects(parse(EventParser::Minio, &bytes(&body)));
        assert_eq!(events[0].key, format!("recordings/{ID}.mp4"));
        assert_eq!(events[0].event_name, "s3:ObjectCreated:Put");
    }

    #[test]
    fn rustfs_body() {
        let mut body = minio_body(
            "s3:ObjectCreated:Put",
            &format!("recordings%2F{ID}.ogg"),
            &format!("recordings/{ID}.ogg"),
        );
        let record = &mut body["Records"][0];
        record["eventSource"] = json!("rustfs:s3");
        record["eventVersion"] = json!("2.1");
        record["s3"]["object"]["contentType"] = json!("audio/ogg");
        record["responseElements"] = json!({});
        let events = objects(parse(EventParser::Minio, &bytes(&body)));
        assert_eq!(events[0].key, format!("recordings/{ID}.ogg"));
        assert_eq!(events[0].content_type.as_deref(), Some("audio/ogg"));
        assert_eq!(
            classify(&events[0], BUCKET, "recordings"),
            Ok(recording("ogg"))
        );
    }

    #[test]
    fn aws_direct_two_records_keeps_the_created_one() {
        let body = json!({"Records": [
            aws_record("ObjectRemoved:Delete", &format!("recordings/{ID}.ogg")),
            aws_record("ObjectCreated:CompleteMultipartUpload", &format!("recordings/{ID}.mp4")),
        ]});
        let events = objects(parse(EventParser::S3, &bytes(&body)));
        assert_eq!(
            events,
            vec![ObjectEvent {
                bucket: BUCKET.into(),
                key: format!("recordings/{ID}.mp4"),
                content_type: None,
                size: Some(1024),
                event_name: "ObjectCreated:CompleteMultipartUpload".into(),
            }]
        );
        // No content type: the key alone decides.
        assert_eq!(
            classify(&events[0], BUCKET, "recordings"),
            Ok(recording("mp4"))
        );
    }

    #[test]
    fn only_non_created_records_are_ignored() {
        let body = json!({"Records": [
            aws_record("ObjectRemoved:Delete", "a"),
            // "Created", but not "ObjectCreated".
            aws_record("ObjectRemoved:DeleteMarkerCreated", "b"),
        ]});
        assert_eq!(
            parse(EventParser::S3, &bytes(&body)),
            Ok(Parsed::Ignored("not an object-created event"))
        );
        // The event name test is case-insensitive.
        let body = json!({"Records": [aws_record("objectcreated:put", "a")]});
        assert_eq!(objects(parse(EventParser::S3, &bytes(&body))).len(), 1);
    }

    #[test]
    fn plus_encoded_key_with_a_space() {
        let body = json!({"Records": [aws_record("ObjectCreated:Put", "my+file%2B1%3A2.mp4")]});
        let events = objects(parse(EventParser::S3, &bytes(&body)));
        assert_eq!(events[0].key, "my file+1:2.mp4");
        assert_eq!(decode_key("recordings%2Fa+b.ogg"), "recordings/a b.ogg");
        assert_eq!(decode_key("%C3%A9t%C3%A9"), "été");
    }

    #[test]
    fn raw_key_with_a_slash_is_kept() {
        let body = json!({"Records": [aws_record("ObjectCreated:Put", "recordings/a+b%41.mp4")]});
        let events = objects(parse(EventParser::S3, &bytes(&body)));
        assert_eq!(events[0].key, "recordings/a+b%41.mp4");
        let body =
            json!({"Records": [aws_record("ObjectCreated:Put", &format!("recordings/{ID}.ogg"))]});
        let events = objects(parse(EventParser::S3, &bytes(&body)));
        assert_eq!(
            classify(&events[0], BUCKET, "recordings"),
            Ok(recording("ogg"))
        );
    }

    #[test]
    fn undecodable_keys_are_kept_raw() {
        for raw in [
            "100%", "%zz", "%4", "a%2", "%FF%FE", "%C3", "a=b", "a&b", "%", "%%41",
        ] {
            assert_eq!(decode_key(raw), raw, "{raw}");
        }
        // U+FFFD spelled out in the key survives decoding.
        assert_eq!(decode_key("%EF%BF%BD"), "\u{FFFD}");
        assert_eq!(decode_key("%ef%bf%bd+"), "\u{FFFD} ");
        assert_eq!(decode_key(""), "");
    }

    #[test]
    fn s3_test_event_is_ignored() {
        let body = json!({
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2025-03-14T09:26:53.589Z",
            "Bucket": BUCKET,
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
        });
        for format in [EventParser::S3, EventParser::Minio] {
            assert_eq!(
                parse(format, &bytes(&body)),
                Ok(Parsed::Ignored("S3 test event"))
            );
        }
        let sns = json!({"Type": "Notification", "Message": body.to_string()});
        assert_eq!(
            parse(EventParser::AwsSns, &bytes(&sns)),
            Ok(Parsed::Ignored("S3 test event"))
        );
    }

    fn sns(kind: &str, message: &str) -> Value {
        json!({
            "Type": kind,
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:eu-west-3:123456789012:meet-recordings",
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": "2025-03-14T09:26:54.012Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
            "SigningCertURL": "https://sns.eu-west-3.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
            "UnsubscribeURL": "https://sns.eu-west-3.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:eu-west-3:123456789012:meet-recordings:c9135db0"
        })
    }

    #[test]
    fn sns_notification() {
        let message =
            json!({"Records": [aws_record("ObjectCreated:Put", &format!("recordings/{ID}.mp4"))]});
        let body = sns("Notification", &message.to_string());
        let events = objects(parse(EventParser::AwsSns, &bytes(&body)));
        assert_eq!(events[0].key, format!("recordings/{ID}.mp4"));
        assert_eq!(events[0].event_name, "ObjectCreated:Put");

        let body = sns("Notification", "{not json");
        assert!(matches!(
            parse(EventParser::AwsSns, &bytes(&body)),
            Err(ParseError::SnsMessage(inner)) if matches!(*inner, ParseError::InvalidJson(_))
        ));
        let body = sns("Notification", "[1]");
        assert!(matches!(
            parse(EventParser::AwsSns, &bytes(&body)),
            Err(ParseError::SnsMessage(inner)) if matches!(*inner, ParseError::WrongType { .. })
        ));
    }

    #[test]
    fn sns_subscription_confirmation() {
        let mut body = sns("SubscriptionConfirmation", "You have chosen to subscribe…");
        body["Token"] = json!("2336412f37fb687f5d51e6e2425c464de12884");
        body["SubscribeURL"] = json!(
            "https://sns.eu-west-3.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-3:123456789012:meet-recordings&Token=2336412f37fb687f5d51e6e2425c464de12884"
        );
        assert_eq!(
            parse(EventParser::AwsSns, &bytes(&body)),
            Ok(Parsed::SubscriptionConfirmation {
                topic_arn: "arn:aws:sns:eu-west-3:123456789012:meet-recordings".into(),
                subscribe_url: body["SubscribeURL"].as_str().unwrap().into(),
            })
        );
        body.as_object_mut().unwrap().remove("SubscribeURL");
        assert_eq!(
            parse(EventParser::AwsSns, &bytes(&body)),
            Err(ParseError::MissingField("SubscribeURL".into()))
        );
    }

    #[test]
    fn sns_other_types() {
        let body = sns("UnsubscribeConfirmation", "unsubscribed");
        assert_eq!(
            parse(EventParser::AwsSns, &bytes(&body)),
            Ok(Parsed::Ignored("SNS unsubscribe confirmation"))
        );
        let body = sns(&"X".repeat(500), "");
        let Err(ParseError::UnknownSnsType(kind)) = parse(EventParser::AwsSns, &bytes(&body))
        else {
            panic!("expected UnknownSnsType");
        };
        assert!(kind.chars().count() <= 65);
        // Raw message delivery (no envelope) is refused with a hint.
        let raw = json!({"Records": [aws_record("ObjectCreated:Put", "k")]});
        assert!(matches!(
            parse(EventParser::AwsSns, &bytes(&raw)),
            Err(ParseError::WrongFormat {
                configured: "aws-sns",
                ..
            })
        ));
    }

    fn eventbridge(detail_type: &str, key: &str) -> Value {
        json!({
            "version": "0",
            "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": detail_type,
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2025-03-14T09:26:54Z",
            "region": "eu-west-3",
            "resources": [format!("arn:aws:s3:::{BUCKET}")],
            "detail": {
                "version": "0",
                "bucket": {"name": BUCKET},
                "object": {
                    "key": key,
                    "size": 5_242_881,
                    "etag": "b1946ac92492d2347c6235b4d2611184-2",
                    "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                    "sequencer": "617f08299329d189"
                },
                "request-id": "N4N7GDK58NMKJ12R",
                "requester": "123456789012",
                "source-ip-address": "203.0.113.15",
                "reason": "CompleteMultipartUpload"
            }
        })
    }

    #[test]
    fn eventbridge_object_created() {
        let body = eventbridge("Object Created", &format!("recordings%2F{ID}.mp4"));
        let events = objects(parse(EventParser::EventBridge, &bytes(&body)));
        assert_eq!(
            events,
            vec![ObjectEvent {
                bucket: BUCKET.into(),
                key: format!("recordings/{ID}.mp4"),
                content_type: None,
                size: Some(5_242_881),
                event_name: "Object Created".into(),
            }]
        );
        assert_eq!(
            classify(&events[0], BUCKET, "recordings"),
            Ok(recording("mp4"))
        );
    }

    #[test]
    fn eventbridge_other_events_are_ignored() {
        let body = eventbridge("Object Deleted", "k");
        assert_eq!(
            parse(EventParser::EventBridge, &bytes(&body)),
            Ok(Parsed::Ignored("EventBridge event is not Object Created"))
        );
        let mut body = eventbridge("Object Created", "k");
        body["source"] = json!("aws.ec2");
        assert_eq!(
            parse(EventParser::EventBridge, &bytes(&body)),
            Ok(Parsed::Ignored("EventBridge event not from aws.s3"))
        );
        let mut body = eventbridge("Object Created", "k");
        body["detail"]["object"]["size"] = json!(-1);
        assert_eq!(
            parse(EventParser::EventBridge, &bytes(&body)),
            Err(ParseError::WrongType {
                field: "detail.object.size".into(),
                expected: "a non-negative integer below 2^64",
            })
        );
    }

    #[test]
    fn manifest_json_is_ignored() {
        let manifest = event("recordings/EG_hT3xZq9yK2mWc.json", Some("application/json"));
        assert!(matches!(
            classify(&manifest, BUCKET, "recordings"),
            Ok(Relevance::Ignored(reason)) if reason.contains("manifest")
        ));
        let manifest = event(&format!("recordings/{ID}.json"), None);
        assert!(matches!(
            classify(&manifest, BUCKET, "recordings"),
            Ok(Relevance::Ignored(reason)) if reason.contains("manifest")
        ));
    }

    #[test]
    fn nested_prefix_is_accepted() {
        let nested = event(&format!("a/b/recordings/{ID}.ogg"), Some("audio/ogg"));
        assert_eq!(
            classify(&nested, BUCKET, "recordings"),
            Ok(recording("ogg"))
        );
        // The configured folder may itself be nested and carry slashes.
        let nested = event(&format!("tenant/a/recordings/{ID}.mp4"), None);
        assert_eq!(
            classify(&nested, BUCKET, "/a/recordings/"),
            Ok(recording("mp4"))
        );
        // A content type with parameters, in any case.
        let typed = event(
            &format!("recordings/{ID}.ogg"),
            Some("Audio/OGG; codecs=opus"),
        );
        assert_eq!(classify(&typed, BUCKET, "recordings"), Ok(recording("ogg")));
    }

    #[test]
    fn other_keys_are_ignored() {
        for key in [
            "recordings/not-a-uuid.mp4".to_owned(),
            format!("recordings/{}.mp4", ID.to_uppercase()),
            format!("recordings/{}.mp4", ID.replace('-', "")),
            format!("recordings/{{{ID}}}.mp4"),
            format!("xrecordings/{ID}.mp4"),
            format!("recordings/sub/{ID}.mp4"),
            // The segments of a paused recording: only the joined file saves it.
            format!("recordings/{ID}/part-2.mp4"),
            format!("recordings/{ID}/part-1.ogg"),
            format!("other/{ID}.mp4"),
            format!("{ID}.mp4"),
            format!("recordings/{ID}.mp4.part"),
            format!("recordings/{ID}.webm"),
            format!("recordings/{ID}"),
            "recordings/".to_owned(),
            String::new(),
        ] {
            let relevance = classify(&event(&key, None), BUCKET, "recordings");
            assert!(
                matches!(relevance, Ok(Relevance::Ignored(_))),
                "{key}: {relevance:?}"
            );
        }
    }

    #[test]
    fn wrong_bucket() {
        let mut other = event(&format!("recordings/{ID}.mp4"), Some("video/mp4"));
        other.bucket = "someone-else".into();
        let error = classify(&other, BUCKET, "recordings").unwrap_err();
        assert_eq!(error, WrongBucket("someone-else".into()));
        assert_eq!(error.to_string(), "invalid bucket \"someone-else\"");
        // The bucket is checked before the key.
        other.key = "anything".into();
        assert!(classify(&other, BUCKET, "recordings").is_err());
    }

    #[test]
    fn wrong_content_type_is_ignored() {
        for content_type in ["image/png", "application/octet-stream", "video/mp4x", ""] {
            let png = event(&format!("recordings/{ID}.mp4"), Some(content_type));
            assert_eq!(
                classify(&png, BUCKET, "recordings"),
                Ok(Relevance::Ignored(
                    "content type is not audio/ogg or video/mp4"
                )),
                "{content_type}"
            );
        }
    }

    #[test]
    fn garbage_is_a_parse_error() {
        let formats = [
            EventParser::Minio,
            EventParser::S3,
            EventParser::AwsSns,
            EventParser::EventBridge,
        ];
        let deep = "[".repeat(10_000);
        for body in [
            &b""[..],
            b"\xff\xfe\x00garbage",
            b"not json",
            b"{\"Records\": [",
            deep.as_bytes(),
            b"[]",
            b"null",
            b"42",
            b"\"Records\"",
        ] {
            for format in formats {
                assert!(parse(format, body).is_err(), "{format:?} {body:?}");
            }
        }
        assert!(matches!(
            parse(EventParser::S3, b"\xff"),
            Err(ParseError::InvalidJson(_))
        ));
        assert_eq!(
            parse(EventParser::S3, b"[]"),
            Err(ParseError::WrongType {
                field: "the body".into(),
                expected: "a JSON object"
            })
        );
    }

    #[test]
    fn wrong_types_are_parse_errors() {
        let key = format!("recordings/{ID}.mp4");
        let cases: Vec<(Value, ParseError)> = vec![
            (json!({"Records": {}}), wrong_type("Records", "an array")),
            (json!({"Records": []}), ParseError::NoRecords),
            (
                json!({"Records": [1]}),
                wrong_type("Records[0]", "a JSON object"),
            ),
            (json!({}), missing("Records")),
            (
                json!({"Records": [{"eventName": 7}]}),
                wrong_type("Records[0].eventName", "a string"),
            ),
            (
                json!({"Records": [{"s3": {}}]}),
                missing("Records[0].eventName"),
            ),
            (
                json!({"Records": [{"eventName": "ObjectCreated:Put"}]}),
                missing("Records[0].s3"),
            ),
            (
                json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": ""}, "object": {"key": key}}}]}),
                wrong_type("Records[0].s3.bucket.name", "a non-empty string"),
            ),
            (
                json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": 12}}}]}),
                wrong_type("Records[0].s3.object.key", "a string"),
            ),
            (
                json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": ""}}}]}),
                wrong_type("Records[0].s3.object.key", "a non-empty string"),
            ),
            (
                json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": "12"}}}]}),
                wrong_type(
                    "Records[0].s3.object.size",
                    "a non-negative integer below 2^64",
                ),
            ),
            (
                json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 1.5}}}]}),
                wrong_type(
                    "Records[0].s3.object.size",
                    "a non-negative integer below 2^64",
                ),
            ),
            (
                json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "contentType": ["video/mp4"]}}}]}),
                wrong_type("Records[0].s3.object.contentType", "a string"),
            ),
            (
                json!({"Type": "Notification", "Message": "{}"}),
                ParseError::WrongFormat {
                    configured: "s3",
                    looks_like: "an SNS envelope",
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                parse(EventParser::S3, &bytes(&body)),
                Err(expected),
                "{body}"
            );
        }
        // Numbers beyond u64 (and beyond f64) are errors, not panics.
        let huge = format!(
            r#"{{"Records":[{{"eventName":"ObjectCreated:Put","s3":{{"bucket":{{"name":"{BUCKET}"}},"object":{{"key":"k","size":18446744073709551616}}}}}}]}}"#
        );
        assert!(matches!(
            parse(EventParser::S3, huge.as_bytes()),
            Err(ParseError::WrongType { .. })
        ));
        let huger = huge.replace("18446744073709551616", "1e400");
        assert!(matches!(
            parse(EventParser::S3, huger.as_bytes()),
            Err(ParseError::InvalidJson(_))
        ));
        // MinIO's top-level fields are type-checked too.
        let mut body = minio_body("s3:ObjectCreated:Put", "k", "k");
        body["Key"] = json!(3);
        assert_eq!(
            parse(EventParser::Minio, &bytes(&body)),
            Err(wrong_type("Key", "a string"))
        );
        // EventBridge without detail-type, and with detail of the wrong type.
        assert_eq!(
            parse(EventParser::EventBridge, br#"{"source":"aws.s3"}"#),
            Err(missing("detail-type"))
        );
        let mut body = eventbridge("Object Created", "k");
        body["detail"] = json!("x");
        assert_eq!(
            parse(EventParser::EventBridge, &bytes(&body)),
            Err(wrong_type("detail", "a JSON object"))
        );
    }

    #[test]
    fn truncated_bodies_never_panic() {
        let body = bytes(&minio_body(
            "s3:ObjectCreated:Put",
            &format!("recordings%2F{ID}.mp4"),
            &format!("recordings/{ID}.mp4"),
        ));
        for end in 0..body.len() {
            for format in [
                EventParser::Minio,
                EventParser::S3,
                EventParser::AwsSns,
                EventParser::EventBridge,
            ] {
                assert!(parse(format, &body[..end]).is_err());
            }
        }
    }
}

//! Twirp JSON responses as LiveKit's Go server writes them (`protojson` with
//! `UseProtoNames` and `EmitUnpopulated`): snake_case keys, every field present, 64-bit
//! integers as strings, enums by name. The `livekit-protocol` crate's serializers emit
//! the webhook style instead (camelCase, zero values omitted), so responses go through
//! a descriptor pool compiled from the same crate's `.proto` files.

use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, SerializeOptions};
use serde_json::Value;

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(
        include_bytes!(concat!(env!("OUT_DIR"), "/livekit_descriptors.bin")).as_slice(),
    )
    .expect("descriptor set compiled by build.rs")
});

/// Encodes `message`, whose protobuf full name is `name` (e.g. `livekit.EgressInfo`).
pub(crate) fn encode<M: prost::Message>(message: &M, name: &str) -> Vec<u8> {
    let descriptor = POOL
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("no descriptor for {name}"));
    let dynamic = DynamicMessage::decode(descriptor.clone(), message.encode_to_vec().as_slice())
        .expect("a message re-decodes with its own descriptor");
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false)
        .stringify_64_bit_integers(true);
    let mut value = dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .expect("serialize to JSON");
    add_unset_messages(&mut value, &descriptor);
    serde_json::to_vec(&value).expect("serialize JSON")
}

/// `EmitUnpopulated` writes an unset message field as `null`; prost-reflect leaves it
/// out. Fields of a oneof (and proto3 `optional` ones) stay out when unset, as in Go.
fn add_unset_messages(value: &mut Value, descriptor: &MessageDescriptor) {
    let Value::Object(map) = value else {
        return;
    };
    if descriptor.full_name().starts_with("google.protobuf.") {
        return;
    }
    for field in descriptor.fields() {
        let Kind::Message(field_type) = field.kind() else {
            continue;
        };
        match map.get_mut(field.name()) {
            None if field.containing_oneof().is_none() && !field.is_list() && !field.is_map() => {
                map.insert(field.name().to_owned(), Value::Null);
            }
            Some(Value::Array(items)) => {
                for item in items {
                    add_unset_messages(item, &field_type);
                }
            }
            Some(nested) if !field.is_map() => add_unset_messages(nested, &field_type),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use livekit_protocol as proto;

    #[test]
    fn egress_info_has_every_field_in_snake_case_with_string_int64() {
        let info = proto::EgressInfo {
            egress_id: "EG_x".into(),
            ..Default::default()
        };
        let json: serde_json::Value =
            serde_json::from_slice(&super::encode(&info, "livekit.EgressInfo")).unwrap();
        assert_eq!(json["egress_id"], "EG_x");
        assert_eq!(json["status"], "EGRESS_STARTING");
        assert_eq!(json["started_at"], "0");
        assert_eq!(json["error_code"], 0);
        assert!(json.get("egressId").is_none());
        assert_eq!(json["file_results"], serde_json::json!([]));
        assert!(
            json.get("room_composite").is_none(),
            "unset oneof members stay out"
        );
    }

    #[test]
    fn unset_message_fields_are_null() {
        let response = proto::ListEgressResponse::default();
        let json: serde_json::Value =
            serde_json::from_slice(&super::encode(&response, "livekit.ListEgressResponse"))
                .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"items": [], "next_page_token": null})
        );
    }
}

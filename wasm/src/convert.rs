//! JS values to core types and back: ids, vectors, payloads (JSON), filters and settings.

use std::str::FromStr;

use js_sys::{Array, BigInt, Float32Array, Object, Reflect};
use serde_json::{Map, Number, Value};
use stratavec_core::{Filter, HnswParams, Payload, PointId, Quantization, ScoredPoint};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{invalid, OrThrow};

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
/// Payloads nest at most this deep (as in every other binding).
const MAX_DEPTH: usize = 64;

/// `typeof`-like name of a value, for messages.
pub(crate) fn kind(v: &JsValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    if Array::is_array(v) {
        return "an array".into();
    }
    let t = v.js_typeof().as_string().unwrap_or_default();
    if t == "object" {
        let ctor = Reflect::get(v, &JsValue::from_str("constructor"))
            .ok()
            .and_then(|c| Reflect::get(&c, &JsValue::from_str("name")).ok())
            .and_then(|n| n.as_string());
        if let Some(name) = ctor.filter(|n| n != "Object") {
            return format!("a {name}");
        }
    }
    format!("a {t}")
}

/// The elements of an array or typed array.
fn elements(v: &JsValue, what: &str) -> Result<Array, JsValue> {
    if Array::is_array(v) {
        return Ok(v.clone().unchecked_into());
    }
    if js_sys::ArrayBuffer::is_view(v) && !v.is_instance_of::<js_sys::DataView>() {
        return Ok(Array::from(v));
    }
    Err(invalid(format!(
        "{what} must be an array (or a typed array), got {}",
        kind(v)
    )))
}

/// A BigInt's decimal digits (with a `-` when negative).
fn bigint_text(v: &JsValue) -> String {
    BigInt::unchecked_from_js_ref(v)
        .to_string(10)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

/// One id: a non-negative safe integer, a BigInt in u64 range, or a UUID (or decimal) string.
pub(crate) fn point_id(v: &JsValue) -> Result<PointId, JsValue> {
    if let Some(x) = v.as_f64() {
        if x.is_finite() && x.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&x) {
            return Ok(PointId::Num(x as u64));
        }
        return Err(invalid(format!(
            "point id {x} is not a non-negative integer up to 2^53 - 1; use a BigInt for larger ids, or a UUID string"
        )));
    }
    if v.is_bigint() {
        let text = bigint_text(v);
        return text.parse::<u64>().map(PointId::Num).map_err(|_| {
            invalid(format!(
                "point id {text}n is not an unsigned 64-bit integer"
            ))
        });
    }
    if let Some(s) = v.as_string() {
        return PointId::from_str(&s).or_throw();
    }
    Err(invalid(format!(
        "a point id is a number, a BigInt or a UUID string, got {}",
        kind(v)
    )))
}

/// A list of ids.
pub(crate) fn point_ids(v: &JsValue) -> Result<Vec<PointId>, JsValue> {
    let items = elements(v, "ids")?;
    items.iter().map(|x| point_id(&x)).collect()
}

/// An id as JS: a number when it is a safe integer, else a BigInt; UUIDs as strings.
pub(crate) fn id_to_js(id: &PointId) -> JsValue {
    match id {
        PointId::Num(n) if (*n as f64) <= MAX_SAFE => JsValue::from_f64(*n as f64),
        PointId::Num(n) => BigInt::from(*n).into(),
        PointId::Uuid(u) => JsValue::from_str(&u.hyphenated().to_string()),
    }
}

/// Vectors: a `Float32Array`, or an array (or other typed array) of numbers, flat.
pub(crate) fn vectors(v: &JsValue, what: &str) -> Result<Vec<f32>, JsValue> {
    if let Some(f) = v.dyn_ref::<Float32Array>() {
        return Ok(f.to_vec());
    }
    let items = elements(v, what)?;
    items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64().map(|f| f as f32).ok_or_else(|| {
                invalid(format!(
                    "{what} must hold numbers; element {i} is {}",
                    kind(&x)
                ))
            })
        })
        .collect()
}

/// A JS value as JSON: plain objects, arrays, strings, finite numbers, booleans, null, and
/// BigInts in 64-bit range. Object properties that are `undefined` are left out (as
/// `JSON.stringify` does); anything else (functions, symbols, Dates, Maps, NaN) is refused,
/// naming where it was.
pub(crate) fn to_json(v: &JsValue, at: &str) -> Result<Value, JsValue> {
    to_json_at(v, at, 0)
}

fn to_json_at(v: &JsValue, at: &str, depth: usize) -> Result<Value, JsValue> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "{at} nests deeper than {MAX_DEPTH} levels"
        )));
    }
    if v.is_null() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(s) = v.as_string() {
        return Ok(Value::String(s));
    }
    if let Some(x) = v.as_f64() {
        if x.fract() == 0.0 && x.abs() <= MAX_SAFE {
            return Ok(Value::from(x as i64));
        }
        return Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| invalid(format!("{at} is {x}, which JSON cannot hold")));
    }
    if v.is_bigint() {
        let text = bigint_text(v);
        return text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .map_err(|_| invalid(format!("{at} is {text}n, outside 64-bit integers")));
    }
    if Array::is_array(v) {
        let items: &Array = v.unchecked_ref();
        return items
            .iter()
            .enumerate()
            .map(|(i, x)| to_json_at(&x, &format!("{at}[{i}]"), depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if is_plain_object(v) {
        let mut map = Map::new();
        for entry in Object::entries(v.unchecked_ref()).iter() {
            let pair: &Array = entry.unchecked_ref();
            let key = pair.get(0).as_string().unwrap_or_default();
            let value = pair.get(1);
            if value.is_undefined() {
                continue;
            }
            let here = format!("{at}.{key}");
            map.insert(key, to_json_at(&value, &here, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    Err(invalid(format!(
        "{at} is {}, which JSON cannot hold (dates belong in ISO strings)",
        kind(v)
    )))
}

/// An object made by `{...}` or `Object.create(null)`, not a Date, Map or class instance.
fn is_plain_object(v: &JsValue) -> bool {
    if !v.is_object() || v.is_function() {
        return false;
    }
    let proto = Object::get_prototype_of(v);
    proto.is_null() || proto == Object::get_prototype_of(&Object::new())
}

/// JSON as a JS value (objects as plain objects).
pub(crate) fn from_json(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(items) => items.iter().map(from_json).collect::<Array>().into(),
        Value::Object(map) => object_to_js(map),
    }
}

/// A JSON object (a payload) as a plain JS object.
pub(crate) fn object_to_js(map: &Map<String, Value>) -> JsValue {
    let o = Object::new();
    for (k, x) in map {
        set(&o, k, &from_json(x));
    }
    o.into()
}

/// The settings object of a call, its keys checked against `allowed` (a misspelt option is an
/// error, not silently ignored): `(key, value)` pairs, `undefined` values left out.
pub(crate) fn options(
    v: &JsValue,
    what: &str,
    allowed: &[&str],
) -> Result<Vec<(String, JsValue)>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    if !is_plain_object(v) {
        return Err(invalid(format!(
            "{what} options must be an object, got {}",
            kind(v)
        )));
    }
    let mut out = Vec::new();
    for entry in Object::entries(v.unchecked_ref()).iter() {
        let pair: &Array = entry.unchecked_ref();
        let key = pair.get(0).as_string().unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            return Err(invalid(format!(
                "unknown {what} option {key:?}; expected one of {}",
                allowed.join(", ")
            )));
        }
        let value = pair.get(1);
        if !value.is_undefined() {
            out.push((key, value));
        }
    }
    Ok(out)
}

/// A non-negative integer option.
pub(crate) fn count_option(v: &JsValue, name: &str) -> Result<usize, JsValue> {
    match v.as_f64() {
        Some(x) if x.is_finite() && x.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&x) => {
            Ok(x as usize)
        }
        _ => Err(invalid(format!(
            "{name} must be a non-negative integer, got {}",
            describe(v)
        ))),
    }
}

/// A boolean option.
pub(crate) fn bool_option(v: &JsValue, name: &str) -> Result<bool, JsValue> {
    v.as_bool()
        .ok_or_else(|| invalid(format!("{name} must be true or false, got {}", describe(v))))
}

/// A number option.
pub(crate) fn number_option(v: &JsValue, name: &str) -> Result<f64, JsValue> {
    v.as_f64()
        .ok_or_else(|| invalid(format!("{name} must be a number, got {}", describe(v))))
}

/// A string option.
pub(crate) fn string_option(v: &JsValue, name: &str) -> Result<String, JsValue> {
    v.as_string()
        .ok_or_else(|| invalid(format!("{name} must be a string, got {}", describe(v))))
}

/// A value for a message: numbers and strings as they are, anything else by kind.
fn describe(v: &JsValue) -> String {
    if let Some(x) = v.as_f64() {
        return x.to_string();
    }
    if let Some(s) = v.as_string() {
        return format!("{s:?}");
    }
    kind(v)
}

/// A payload: a plain object (or `null` / `undefined` for none).
pub(crate) fn payload(v: &JsValue, at: &str) -> Result<Payload, JsValue> {
    if v.is_null() || v.is_undefined() {
        return Ok(Payload::new());
    }
    match to_json(v, at)? {
        Value::Object(map) => Ok(map),
        _ => Err(invalid(format!("{at} must be an object, got {}", kind(v)))),
    }
}

/// The payloads of an upsert, one per id (`undefined` for none at all).
pub(crate) fn payloads(v: &JsValue, n: usize) -> Result<Option<Vec<Payload>>, JsValue> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    if !Array::is_array(v) {
        return Err(invalid(format!(
            "payloads must be an array of objects, one per id, got {}",
            kind(v)
        )));
    }
    let items: &Array = v.unchecked_ref();
    if items.length() as usize != n {
        return Err(invalid(format!(
            "got {} payloads for {n} ids",
            items.length()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, p)| payload(&p, &format!("payloads[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A filter: a Qdrant-style filter object, or `null` / `undefined` for none.
pub(crate) fn filter(v: &JsValue) -> Result<Option<Filter>, JsValue> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    Filter::from_json(&to_json(v, "filter")?)
        .or_throw()
        .map(Some)
}

/// Quantization: `null` / `undefined`, `"int8"`, `"binary"` or an object of settings
/// (`{type: "int8", quantile: 0.99, oversampling: 4}`).
pub(crate) fn quantization(v: &JsValue) -> Result<Option<Quantization>, JsValue> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    if let Some(name) = v.as_string() {
        return match name.as_str() {
            "int8" => Ok(Some(Quantization::int8())),
            "binary" => Ok(Some(Quantization::binary())),
            _ => Err(invalid(format!(
                "unknown quantization {name:?}; expected \"int8\", \"binary\", an object of settings or null"
            ))),
        };
    }
    Quantization::from_json(&to_json(v, "quantization")?)
        .or_throw()
        .map(Some)
}

/// An index: `"hnsw"`, `"flat"`, `{type: "hnsw", m, efConstruction}` or `{type: "flat"}`;
/// `undefined` is HNSW with its defaults. `None` means flat.
pub(crate) fn index(v: &JsValue) -> Result<Option<HnswParams>, JsValue> {
    if v.is_undefined() {
        return Ok(Some(HnswParams::default()));
    }
    let json = to_json(v, "index")?;
    let (kind_name, settings) = match &json {
        Value::String(s) => (s.as_str(), None),
        Value::Object(map) => (
            map.get("type").and_then(Value::as_str).unwrap_or("hnsw"),
            Some(map),
        ),
        _ => ("", None),
    };
    match kind_name {
        "flat" => {
            if settings.is_some_and(|m| m.len() > 1) {
                return Err(invalid("a flat index takes no settings"));
            }
            Ok(None)
        }
        "hnsw" => {
            let mut params = HnswParams::default();
            for (k, x) in settings.into_iter().flatten() {
                let number = || {
                    x.as_u64().map(|n| n as usize).ok_or_else(|| {
                        invalid(format!("index.{k} must be a positive integer, got {x}"))
                    })
                };
                match k.as_str() {
                    "type" => {}
                    "m" => params.m = number()?,
                    "efConstruction" => params.ef_construction = number()?,
                    _ => {
                        return Err(invalid(format!(
                            "unknown index setting {k:?}; HNSW takes m and efConstruction"
                        )))
                    }
                }
            }
            params.validate().or_throw()?;
            Ok(Some(params))
        }
        _ => Err(invalid(format!(
            "index must be \"hnsw\", \"flat\" or {{type, m, efConstruction}}, got {json}"
        ))),
    }
}

/// Sets `key` on a fresh object.
pub(crate) fn set(o: &Object, key: &str, value: &JsValue) {
    // Setting a property on a plain object we created cannot fail.
    let _ = Reflect::set(o, &JsValue::from_str(key), value);
}

/// Search hits as `{ids, scores, payloads?, vectors?}`: parallel arrays, scores a
/// `Float32Array`.
pub(crate) fn hits(found: &[ScoredPoint], with_payload: bool, with_vector: bool) -> JsValue {
    let ids: Array = found.iter().map(|h| id_to_js(&h.id)).collect();
    let scores: Vec<f32> = found.iter().map(|h| h.score).collect();
    let o = Object::new();
    set(&o, "ids", &ids);
    set(&o, "scores", &Float32Array::from(scores.as_slice()));
    if with_payload {
        let payloads: Array = found
            .iter()
            .map(|h| h.payload.as_ref().map_or(JsValue::NULL, object_to_js))
            .collect();
        set(&o, "payloads", &payloads);
    }
    if with_vector {
        let vectors: Array = found
            .iter()
            .map(|h| {
                h.vector
                    .as_deref()
                    .map_or(JsValue::NULL, |v| Float32Array::from(v).into())
            })
            .collect();
        set(&o, "vectors", &vectors);
    }
    o.into()
}

/// A stored point as `{id, payload?, vector?}`.
pub(crate) fn record(r: &stratavec_core::Record) -> JsValue {
    let o = Object::new();
    set(&o, "id", &id_to_js(&r.id));
    if let Some(p) = &r.payload {
        set(&o, "payload", &object_to_js(p));
    }
    if let Some(v) = &r.vector {
        set(&o, "vector", &Float32Array::from(v.as_slice()).into());
    }
    o.into()
}

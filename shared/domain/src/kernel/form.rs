//! Reading a request's JSON object field by field into domain types, collecting every field
//! error, so a storefront learns about all of its mistakes in one answer. Nested fields are
//! named by their path (`buyer.national_code`, `items[2].quantity`).

use serde_json::{Map, Value};

use crate::kernel::problem::{FieldError, Rejection};

#[derive(Debug, Clone)]
pub struct JsonObject {
    map: Map<String, Value>,
    path: String,
}

impl JsonObject {
    pub fn new(map: Map<String, Value>) -> Self {
        Self { map, path: String::new() }
    }

    /// The object as it was received, for hashing the request (idempotency).
    pub fn to_value(&self) -> Value {
        Value::Object(self.map.clone())
    }

    /// The name of `field` in error reports.
    pub fn path_of(&self, field: &str) -> String {
        format!("{}{field}", self.path)
    }

    fn error(&self, field: &str, code: &'static str, message: &'static str) -> FieldError {
        FieldError::new(&self.path_of(field), code, message)
    }

    /// A present, non-null field, or a `required` error.
    fn present(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<&Value> {
        match self.map.get(field) {
            None | Some(Value::Null) => {
                errors.push(self.error(field, "required", "این مورد الزامی است."));
                None
            }
            Some(value) => Some(value),
        }
    }

    pub fn required_str(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<&str> {
        match self.present(field, errors)? {
            Value::String(text) => Some(text),
            _ => {
                errors.push(self.error(field, "not-a-string", "این مورد باید متن باشد."));
                None
            }
        }
    }

    /// A required text field parsed into its domain type.
    pub fn parsed<T, E: Rejection>(
        &self,
        field: &str,
        parser: impl FnOnce(&str) -> Result<T, E>,
        errors: &mut Vec<FieldError>,
    ) -> Option<T> {
        let raw = self.required_str(field, errors)?;
        parser(raw).map_err(|rejection| errors.push(rejection.at(&self.path_of(field)))).ok()
    }

    pub fn required_bool(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
        match self.present(field, errors)? {
            Value::Bool(flag) => Some(*flag),
            _ => {
                errors.push(self.error(field, "not-a-boolean", "این مورد باید true یا false باشد."));
                None
            }
        }
    }

    pub fn optional_bool(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(_) => self.required_bool(field, errors),
        }
    }

    /// A whole number within `range`; floats, strings and numbers outside it are refused.
    pub fn required_integer(
        &self,
        field: &str,
        range: std::ops::RangeInclusive<u32>,
        errors: &mut Vec<FieldError>,
    ) -> Option<u32> {
        let value = self.present(field, errors)?;
        let Some(number) = value.as_i64() else {
            errors.push(self.error(field, "not-an-integer", "این مورد باید یک عدد صحیح باشد."));
            return None;
        };
        match u32::try_from(number).ok().filter(|n| range.contains(n)) {
            Some(n) => Some(n),
            None => {
                errors.push(self.error(field, "out-of-range", "این عدد خارج از محدودهٔ مجاز است."));
                None
            }
        }
    }

    pub fn required_object(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<JsonObject> {
        match self.present(field, errors)? {
            Value::Object(map) => Some(Self { map: map.clone(), path: format!("{}.", self.path_of(field)) }),
            _ => {
                errors.push(self.error(field, "not-an-object", "این مورد باید یک شیء JSON باشد."));
                None
            }
        }
    }

    /// A nested object that may be left out.
    pub fn optional_object(&self, field: &str, errors: &mut Vec<FieldError>) -> Option<JsonObject> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(_) => self.required_object(field, errors),
        }
    }

    /// A non-empty array of objects, at most `max` long; each element named `field[i]`.
    pub fn required_objects(&self, field: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<Vec<JsonObject>> {
        let Value::Array(values) = self.present(field, errors)? else {
            errors.push(self.error(field, "not-an-array", "این مورد باید یک فهرست باشد."));
            return None;
        };
        if values.is_empty() || values.len() > max {
            errors.push(self.error(field, "array-size", "تعداد موارد این فهرست مجاز نیست."));
            return None;
        }
        let mut objects = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            let path = format!("{}[{index}]", self.path_of(field));
            match value {
                Value::Object(map) => objects.push(Self { map: map.clone(), path: format!("{path}.") }),
                _ => errors.push(FieldError::new(&path, "not-an-object", "این مورد باید یک شیء JSON باشد.")),
            }
        }
        Some(objects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => JsonObject::new(map),
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn nested_errors_are_named_by_their_path() {
        let body = object(json!({ "buyer": { "type": 3 }, "items": [{ "quantity": 0 }, 7] }));
        let mut errors = Vec::new();
        let buyer = body.required_object("buyer", &mut errors).unwrap();
        buyer.required_str("type", &mut errors);
        let items = body.required_objects("items", 10, &mut errors).unwrap();
        items[0].required_integer("quantity", 1..=100, &mut errors);
        items[0].required_str("product_id", &mut errors);
        let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            [
                ("buyer.type", "not-a-string"),
                ("items[1]", "not-an-object"),
                ("items[0].quantity", "out-of-range"),
                ("items[0].product_id", "required")
            ]
        );
    }

    #[test]
    fn integers_must_be_whole_and_in_range() {
        let body = object(json!({ "a": 1.5, "b": -1, "c": 1e12, "d": "3", "e": 3 }));
        let mut errors = Vec::new();
        for field in ["a", "b", "c", "d"] {
            assert_eq!(body.required_integer(field, 1..=100, &mut errors), None, "{field}");
        }
        assert_eq!(body.required_integer("e", 1..=100, &mut errors), Some(3));
        assert_eq!(errors.len(), 4);
    }
}

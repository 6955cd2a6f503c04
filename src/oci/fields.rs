//! What every part of config.json shares: how a field we understand but cannot honour, or honour
//! only one way, is refused by name, and the small shapes many fields take.

use crate::json::{Field, Invalid, Value};

/// A field we understand but cannot honour (the member `key` of `parent`): an error if it is set
/// to anything but empty.
pub fn unsupported(parent: &Field, key: &str, why: &str) -> Result<(), Invalid> {
    let field = parent.get(key)?;
    match field.value() {
        None => Ok(()),
        Some(Value::String(s)) if s.is_empty() => Ok(()),
        Some(Value::Object(members)) if members.is_empty() => Ok(()),
        Some(Value::Array(items)) if items.is_empty() => Ok(()),
        Some(_) => Err(field.error(why)),
    }
}

/// A flag we honour only one way (the member `key` of `parent`): an error if it is set to the other.
pub fn only(parent: &Field, key: &str, honoured: bool, why: &str) -> Result<(), Invalid> {
    let field = parent.get(key)?;
    match field.opt(Field::bool)? {
        Some(value) if value != honoured => Err(field.error(why)),
        _ => Ok(()),
    }
}

pub fn flag(field: &Field) -> Result<bool, Invalid> {
    Ok(field.opt(Field::bool)?.unwrap_or(false))
}

pub fn strings_map(field: &Field) -> Result<Vec<(String, String)>, Invalid> {
    field.read_members(|key, value| Ok((key.to_string(), value.str()?.to_string())))
}

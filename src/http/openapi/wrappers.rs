//! The success envelopes (`Success<T>`, `Page<T>`) as named schemas whose `data` refers
//! to the named data schema. utoipa names a generic's instances `Success_Balance`,
//! `Success_Vec_Country`, `Page_Transaction` and copies `T` inline into each; a generated
//! client then has a `SuccessBalanceData` class beside an unused `Balance`. Here each
//! instance gets a name of its own (`BalanceResponse`, `CountryList`, `TransactionPage`)
//! and its `data` becomes a `$ref` (or an array of `$ref`s) to `T`'s schema.

use std::collections::BTreeMap;

use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};

/// The new name of a wrapper schema and the data schema its `data` refers to (`many`:
/// an array of it): `Success_X` → `XResponse`, `Success_Vec_X` → `XList`, `Page_X` →
/// `XPage`. `None` for any other schema.
fn rename(name: &str) -> Option<(String, &str, bool)> {
    if let Some(inner) = name.strip_prefix("Success_Vec_") {
        Some((format!("{inner}List"), inner, true))
    } else if let Some(inner) = name.strip_prefix("Success_") {
        Some((format!("{inner}Response"), inner, false))
    } else {
        name.strip_prefix("Page_")
            .map(|inner| (format!("{inner}Page"), inner, true))
    }
}

/// Renames every wrapper schema, points its `data` at the named schema, and rewrites the
/// references to it (wrappers are only ever the whole body of a response).
pub(super) fn name_wrappers(doc: &mut Document) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let mut renamed = BTreeMap::new();
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for name in names {
        let Some((new_name, inner, many)) = rename(&name) else {
            continue;
        };
        assert!(
            components.schemas.contains_key(inner),
            "{name} wraps {inner}, which is not a named schema: derive ToSchema on it"
        );
        let Some(RefOr::T(Schema::Object(mut wrapper))) = components.schemas.remove(&name) else {
            panic!("{name} is not an object schema");
        };
        let data: RefOr<Schema> = match many {
            true => ArrayBuilder::new()
                .items(Ref::from_schema_name(inner))
                .build()
                .into(),
            false => Ref::from_schema_name(inner).into(),
        };
        wrapper.properties.insert("data".to_owned(), data);
        wrapper.description = Some(match (many, name.starts_with("Page_")) {
            (true, true) => format!(
                "One page of `{inner}` items, newest first: \
                 `{{\"status\":\"success\",\"data\":[...],\"meta\":{{\"nextCursor\":...}}}}`."
            ),
            (true, false) => {
                format!("A list of `{inner}`: `{{\"status\":\"success\",\"data\":[...]}}`.")
            }
            _ => format!("A `{inner}`: `{{\"status\":\"success\",\"data\":{{...}}}}`."),
        });
        components
            .schemas
            .insert(new_name.clone(), RefOr::T(Schema::Object(wrapper)));
        renamed.insert(format!("#/components/schemas/{name}"), new_name);
    }
    for item in doc.paths.paths.values_mut() {
        for operation in super::operations_mut(item) {
            let responses = operation.responses.responses.values_mut();
            for response in responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                for content in response.content.values_mut() {
                    if let Some(RefOr::Ref(reference)) = content.schema.as_mut() {
                        if let Some(new_name) = renamed.get(&reference.ref_location) {
                            *reference = Ref::from_schema_name(new_name);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rename;

    #[test]
    fn wrappers_are_named_after_what_they_carry() {
        assert_eq!(
            rename("Success_Balance"),
            Some(("BalanceResponse".to_owned(), "Balance", false))
        );
        assert_eq!(
            rename("Success_Vec_Country"),
            Some(("CountryList".to_owned(), "Country", true))
        );
        assert_eq!(
            rename("Page_Transaction"),
            Some(("TransactionPage".to_owned(), "Transaction", true))
        );
        assert_eq!(rename("Balance"), None);
    }
}

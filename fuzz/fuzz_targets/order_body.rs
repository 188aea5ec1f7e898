//! Order body parsing never panics, and what it accepts is within the documented
//! bounds: a plan id of 1 to 64 characters, 1 to 10 eSIMs, a reference of at most 64
//! characters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(order) = tavaro::http::parse_order_body(data) {
        assert!(!order.plan_id.is_empty() && order.plan_id.len() <= 64);
        assert!((1..=10).contains(&order.quantity));
        if let Some(reference) = &order.reference {
            assert!(reference.chars().count() <= 64);
        }
    }
});

//! What a request is answered when it outlives its time limit (`TAVARO_REQUEST_TIMEOUT_SECS`):
//! 503 `service_unavailable` ("nothing was deducted"), unless its handler has left a truer
//! answer first. An order does once its debit commits: from then on the answer is 202
//! `processing` with the order id, never "nothing was deducted". The order's work runs in
//! a task of its own and carries on after the time limit either way.
//!
//! The answer is left as the means to write it, and written only if the time limit fires:
//! nearly every order is answered by its handler, and writing its JSON at every debit cost
//! an order 3% of its work.

use std::sync::{Arc, Mutex};

use crate::orders::keyed::StoredAnswer;

/// Shared between the time limit (in `envelope`, which puts it in the request's
/// extensions) and the handler. Whichever comes first decides: an answer left before the
/// time limit fires is the one sent; once it has fired (and answered 503), nothing can be
/// left, and the handler learns so.
#[derive(Clone, Default)]
pub(crate) struct LateAnswer(Arc<Mutex<Late>>);

/// Writes the answer left.
type Answer = Box<dyn FnOnce() -> StoredAnswer + Send>;

#[derive(Default)]
enum Late {
    #[default]
    Waiting,
    Left(Answer),
    Expired,
}

impl LateAnswer {
    /// Leaves the answer `answer` writes for the time limit to send, replacing any left
    /// before. `false`: the time limit has fired already, and the partner was told nothing
    /// was deducted.
    pub(crate) fn leave(&self, answer: impl FnOnce() -> StoredAnswer + Send + 'static) -> bool {
        let mut late = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*late, Late::Expired) {
            return false;
        }
        *late = Late::Left(Box::new(answer));
        true
    }

    /// The time limit fired: the answer left, if any. Nothing can be left from now on.
    pub(crate) fn expire(&self) -> Option<StoredAnswer> {
        let mut late = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *late, Late::Expired) {
            Late::Left(answer) => Some(answer()),
            Late::Waiting | Late::Expired => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> StoredAnswer {
        StoredAnswer {
            status: 202,
            body: "{}".to_owned(),
        }
    }

    #[test]
    fn an_answer_left_before_the_time_limit_is_the_one_sent() {
        let late = LateAnswer::default();
        assert!(late.leave(answer));
        assert_eq!(late.expire(), Some(answer()));
    }

    #[test]
    fn nothing_can_be_left_once_the_time_limit_has_answered() {
        let late = LateAnswer::default();
        assert_eq!(late.expire(), None);
        assert!(!late.leave(answer));
        assert_eq!(late.expire(), None);
    }
}

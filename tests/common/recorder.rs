//! Below the web layer: monitored functions called directly record through the default
//! recorder, whose queue a test reads.

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fmd_core::profile::RequestDetail;
use fmd_core::{Endpoint, Recorder, RequestRecord, WriterMsg};

/// The default recorder and the endpoint levels are process-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The default recorder for one test, with outlier detection configured as in the original
/// (constant 2.5, 10 samples), cleared when dropped.
pub(crate) struct Harness {
    _serial: MutexGuard<'static, ()>,
    pub(crate) rx: Receiver<WriterMsg>,
    recorder: Arc<Recorder>,
}

impl Harness {
    pub(crate) fn new() -> Harness {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let (recorder, rx) = Recorder::new(1_000);
        fmd_core::queue::set_default(Some(recorder.clone()));
        fmd_core::outlier::configure(2.5, 10);
        Harness {
            _serial: serial,
            rx,
            recorder,
        }
    }

    pub(crate) fn next(&self) -> RequestRecord {
        match self.rx.recv_timeout(Duration::from_secs(5)) {
            Ok(WriterMsg::Record(r)) => r,
            other => panic!("expected a record, got {other:?}"),
        }
    }

    pub(crate) fn detail(&self) -> Box<RequestDetail> {
        self.next().detail.expect("the record has detail")
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        fmd_core::queue::clear_default(&self.recorder);
    }
}

pub(crate) fn endpoint(name: &str) -> &'static Endpoint {
    fmd_core::registry::endpoints()
        .find(|e| e.meta.name == name)
        .unwrap_or_else(|| panic!("endpoint {name} is registered"))
}

//! The configured providers by name. Plans name their provider; orders, reconciliation,
//! usage refreshes and `catalog sync` find the adapter here. Sandbox orders find
//! [`Registry::sandbox`] instead, whatever their plan names.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlx::PgPool;

use super::settings::ProvidersConfig;
use super::simulator::{self, SimulatorConfig};
use super::{Provider, airalo, esimaccess, esimgo, roamify};

/// Every provider this process can call. The simulator is always present.
#[derive(Clone)]
pub struct Registry {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
    /// The simulator that fulfils sandbox orders: the same store as the configured one,
    /// always answering at once and never refusing (`TAVARO_SIM_*` shape demos and tests
    /// of the live path; a partner's sandbox forces outcomes with `Sandbox-Outcome`).
    sandbox: Arc<dyn Provider>,
}

impl Registry {
    /// The simulator (keeping its state in `db`) plus every upstream whose credentials
    /// are configured. `Err` (a start-up failure) when an upstream's HTTP client cannot be
    /// built with its time-outs: no adapter ever runs on a client without them.
    pub fn new(
        upstreams: &ProvidersConfig,
        simulator: &SimulatorConfig,
        db: &PgPool,
    ) -> anyhow::Result<Self> {
        let mut providers: Vec<Arc<dyn Provider>> = vec![Arc::new(simulator::Simulator::new(
            db.clone(),
            simulator.clone(),
        ))];
        let client = |name: &'static str| {
            move |e: reqwest::Error| anyhow::anyhow!("cannot build the {name} HTTP client: {e}")
        };
        if let Some(c) = &upstreams.esimaccess {
            let adapter = esimaccess::EsimAccess::new(c.clone()).map_err(client("esimaccess"))?;
            providers.push(Arc::new(adapter));
        }
        if let Some(c) = &upstreams.airalo {
            providers.push(Arc::new(
                airalo::Airalo::new(c.clone()).map_err(client("airalo"))?,
            ));
        }
        if let Some(c) = &upstreams.esimgo {
            providers.push(Arc::new(
                esimgo::EsimGo::new(c.clone()).map_err(client("esimgo"))?,
            ));
        }
        if let Some(c) = &upstreams.roamify {
            providers.push(Arc::new(
                roamify::Roamify::new(c.clone()).map_err(client("roamify"))?,
            ));
        }
        let sandbox = SimulatorConfig {
            smdp_address: simulator.smdp_address.clone(),
            ..SimulatorConfig::default()
        };
        Ok(Self {
            providers: providers.into_iter().map(|p| (p.name(), p)).collect(),
            sandbox: Arc::new(simulator::Simulator::new(db.clone(), sandbox)),
        })
    }

    /// The provider that fulfils every sandbox order: a simulator, never an upstream.
    pub fn sandbox(&self) -> &Arc<dyn Provider> {
        &self.sandbox
    }

    /// The provider called `name`, if configured.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// Names of the configured providers, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.providers.keys().copied().collect()
    }
}

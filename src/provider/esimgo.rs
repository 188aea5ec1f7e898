//! eSIM Go API v2.4 adapter.

use async_trait::async_trait;

use super::upstream::UpstreamConfig;
use super::{
    EsimRef, EsimUsage, LookupRequest, OrderLookup, Provider, ProviderError, ProvisionRequest,
    Provisioned, UpstreamBalance, UpstreamPackage,
};

/// The eSIM Go API v2.4.
pub struct EsimGo {
    #[allow(dead_code)]
    config: UpstreamConfig,
}

impl EsimGo {
    /// An adapter for the configured account.
    pub fn new(config: UpstreamConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl Provider for EsimGo {
    fn name(&self) -> &'static str {
        "esimgo"
    }

    async fn provision(&self, _request: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        Err(ProviderError::Unsupported("provision"))
    }

    async fn lookup(&self, _request: &LookupRequest) -> Result<OrderLookup, ProviderError> {
        Err(ProviderError::Unsupported("lookup"))
    }

    async fn usage(&self, _esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        Err(ProviderError::Unsupported("usage"))
    }

    async fn packages(&self) -> Result<Vec<UpstreamPackage>, ProviderError> {
        Err(ProviderError::Unsupported("packages"))
    }

    async fn balance(&self) -> Result<UpstreamBalance, ProviderError> {
        Err(ProviderError::Unsupported("balance"))
    }
}

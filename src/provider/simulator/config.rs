//! The simulator's settings (`TAVARO_SIM_*`): how it behaves, to exercise every outcome an
//! upstream can produce.

use std::str::FromStr;
use std::time::Duration;

use anyhow::bail;

/// How the simulator behaves, to exercise every outcome an upstream can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimulatorMode {
    /// Waits the latency, issues the eSIMs, answers.
    Normal,
    /// Issues the eSIMs at once but answers only after the latency: with a latency above
    /// the provider time-out, the gateway sees a time-out for an order that succeeded.
    Late,
    /// Accepts the order, answers "accepted" without eSIMs, and reports it failed when
    /// asked later.
    AcceptThenFail,
    /// Accepts the order and never finishes it: lookups say "pending" forever.
    AcceptThenStall,
    /// The request is lost on the way: no answer, no record upstream.
    Lost,
}

impl FromStr for SimulatorMode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(Self::Normal),
            "late" => Ok(Self::Late),
            "accept_then_fail" => Ok(Self::AcceptThenFail),
            "accept_then_stall" => Ok(Self::AcceptThenStall),
            "lost" => Ok(Self::Lost),
            other => bail!(
                "unknown simulator mode `{other}` (expected: normal, late, accept_then_fail, accept_then_stall, lost)"
            ),
        }
    }
}

/// How the simulator takes the cancellation of an unused eSIM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimulatorRefunds {
    /// Cancelled and credited at once, as eSIM Access and eSIM Go do.
    Instant,
    /// A refund request left for review, as Airalo and Roamify take them: decided with
    /// `tavaro sim refund --esim … --approve|--reject`.
    Reviewed,
}

impl FromStr for SimulatorRefunds {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "instant" => Ok(Self::Instant),
            "reviewed" => Ok(Self::Reviewed),
            other => bail!("unknown simulator refund mode `{other}` (expected: instant, reviewed)"),
        }
    }
}

/// Settings of the built-in simulator provider.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Behaviour (see [`SimulatorMode`]).
    pub mode: SimulatorMode,
    /// Delay of each simulated provisioning answer.
    pub latency: Duration,
    /// Share of orders (0.0–1.0) the simulator refuses, to exercise refunds.
    pub failure_rate: f64,
    /// SM-DP+ address written into the simulated activation codes.
    pub smdp_address: String,
    /// How cancellations are refunded (`TAVARO_SIM_REFUNDS`).
    pub refunds: SimulatorRefunds,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            mode: SimulatorMode::Normal,
            latency: Duration::ZERO,
            failure_rate: 0.0,
            smdp_address: "smdp.sim.tavaro.io".to_owned(),
            refunds: SimulatorRefunds::Instant,
        }
    }
}

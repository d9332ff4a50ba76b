//! 4.10 Raft leader election, simulated tick by tick with no threads and no
//! clock: which node leads, and why never two in one term?
//!
//! What the simulation models (Ongaro and Ousterhout, "In Search of an
//! Understandable Consensus Algorithm", §5.2, §5.4.1 and Figure 2):
//! - N nodes, each a follower, candidate or leader, with the persistent state
//!   of Figure 2: `current_term`, `voted_for` and a log. A log entry is only
//!   its term (there are no commands); `log[i]` is the entry at index `i + 1`.
//! - Randomized election timeouts drawn afresh from `election_timeout`
//!   (150..=300 ticks by default, the paper's 150-300 ms with 1 tick = 1 ms).
//! - RequestVote with the term check (stale terms refused, higher terms
//!   adopted) and the §5.4.1 up-to-date check (last term, then last index);
//!   one vote per term (`voted_for`).
//! - Heartbeats: AppendEntries from the leader every `heartbeat_interval`
//!   ticks. They reset followers' election timers, and a candidate steps
//!   down when the leader's term is at least its own.
//! - A network that delays each message by a uniform number of ticks in
//!   `delay`, drops each with `drop_probability`, and cuts the links across
//!   partitions (a message needs the link up when sent and when delivered).
//!
//! Semantics chosen where Raft leaves freedom or the model is smaller:
//! - Every node starts as a follower in the highest term found in any
//!   initial log, with no vote cast. Candidates always ask for a higher term,
//!   so no second leader can appear in a term that the initial logs used.
//! - A new leader appends one entry of its own term (the no-op that the
//!   thesis, §6.4, has each leader commit) and ships its whole log in every
//!   heartbeat; a follower that accepts the heartbeat takes that log. That
//!   replaces `nextIndex` bookkeeping and gives the same result as a fully
//!   successful AppendEntries. It makes the up-to-date check matter: a leader
//!   with a stale log would overwrite the others' entries.
//! - One PRNG (splitmix64) drives every random choice in a fixed order, so
//!   a seed fixes the whole run.
//! - Bad configuration (no nodes, an empty range, a probability outside
//!   [0, 1], a heartbeat not shorter than the timeout, malformed logs or
//!   partitions) is a `ConfigError`, never a panic.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fmt;
use std::ops::RangeInclusive;

/// The seed of the run that `main` prints.
const SEED: u64 = 42;

pub type NodeId = usize;
pub type Term = u64;
pub type Tick = u64;

/// splitmix64 (Steele, Lea and Flood, 2014): a 64-bit counter passed through
/// a mixing function. Small, fast and fully determined by its seed.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `range` (the modulo bias is negligible for small ranges).
    pub fn in_range(&mut self, range: &RangeInclusive<u64>) -> u64 {
        let (lo, hi) = (*range.start(), *range.end());
        match (hi.saturating_sub(lo)).checked_add(1) {
            Some(span) => lo + self.next_u64() % span,
            None => self.next_u64(),
        }
    }

    /// True with probability `p`, using the top 53 bits as a fraction in [0, 1).
    pub fn chance(&mut self, p: f64) -> bool {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }
}

// ANCHOR: up_to_date
/// Where a log ends: the term and index of its last entry, `(0, 0)` if empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPosition {
    pub last_term: Term,
    pub last_index: u64,
}

impl LogPosition {
    pub fn of(log: &[Term]) -> Self {
        LogPosition {
            last_term: log.last().copied().unwrap_or(0),
            last_index: log.len() as u64,
        }
    }

    /// §5.4.1: the log whose last entry has the later term is more up to
    /// date; if the last terms are equal, the longer log is.
    pub fn is_at_least_as_up_to_date_as(self, other: LogPosition) -> bool {
        (self.last_term, self.last_index) >= (other.last_term, other.last_index)
    }
}
// ANCHOR_END: up_to_date

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(term {}, index {})", self.last_term, self.last_index)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestVote {
    pub term: Term,
    pub candidate: NodeId,
    pub last_log: LogPosition,
}

/// The messages of Figure 2, cut down to what election needs. AppendEntries
/// carries the leader's whole log instead of `prevLogIndex`/`entries`, and
/// its reply has no `success` flag because nothing tracks `matchIndex`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    RequestVote(RequestVote),
    VoteReply {
        term: Term,
        granted: bool,
    },
    AppendEntries {
        term: Term,
        leader: NodeId,
        log: Vec<Term>,
    },
    AppendReply {
        term: Term,
    },
}

/// Why a voter said no.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The request's term is older than the voter's.
    StaleTerm { voter_term: Term },
    /// The voter already voted for someone else in this term.
    AlreadyVoted { for_node: NodeId },
    /// §5.4.1: the voter's own log is more up to date than the candidate's.
    LogBehind { voter_log: LogPosition },
}

// ANCHOR: node
/// One server. `current_term`, `voted_for` and `log` are the state Figure 2
/// says must reach stable storage before the server answers an RPC.
#[derive(Clone, Debug)]
pub struct Node {
    id: NodeId,
    role: Role,
    current_term: Term,
    voted_for: Option<NodeId>,
    log: Vec<Term>,
    /// Whom this node takes to be the leader of `current_term`, if anyone.
    leader: Option<NodeId>,
    votes: BTreeSet<NodeId>,
    election_started_at: Tick,
    election_deadline: Tick,
    next_heartbeat: Tick,
}
// ANCHOR_END: node

impl Node {
    pub fn new(id: NodeId, current_term: Term, log: Vec<Term>) -> Self {
        Node {
            id,
            role: Role::Follower,
            current_term,
            voted_for: None,
            log,
            leader: None,
            votes: BTreeSet::new(),
            election_started_at: 0,
            election_deadline: 0,
            next_heartbeat: 0,
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn current_term(&self) -> Term {
        self.current_term
    }
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    pub fn log(&self) -> &[Term] {
        &self.log
    }
    pub fn known_leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// The tick at which this node began its latest candidacy.
    pub fn election_started_at(&self) -> Tick {
        self.election_started_at
    }

    // ANCHOR: observe_term
    /// Figure 2, rules for all servers: a term newer than ours in any request
    /// or reply makes us a follower of that term, with no vote cast in it.
    fn observe_term(&mut self, term: Term) -> bool {
        if term <= self.current_term {
            return false;
        }
        self.current_term = term;
        self.voted_for = None;
        self.role = Role::Follower;
        self.leader = None;
        true
    }
    // ANCHOR_END: observe_term

    // ANCHOR: request_vote
    /// The RequestVote receiver of Figure 2. On `Ok` the vote is recorded in
    /// `voted_for` (a real server persists it before replying).
    pub fn handle_request_vote(
        &mut self,
        request: &RequestVote,
        election_restriction: bool,
    ) -> Result<(), Refusal> {
        self.observe_term(request.term);
        if request.term < self.current_term {
            return Err(Refusal::StaleTerm {
                voter_term: self.current_term,
            });
        }
        if let Some(other) = self.voted_for
            && other != request.candidate
        {
            return Err(Refusal::AlreadyVoted { for_node: other });
        }
        let own = LogPosition::of(&self.log);
        if election_restriction
            && !request.last_log.is_at_least_as_up_to_date_as(own)
        {
            return Err(Refusal::LogBehind { voter_log: own });
        }
        self.voted_for = Some(request.candidate);
        Ok(())
    }
    // ANCHOR_END: request_vote

    // ANCHOR: start_election
    /// A follower or candidate whose timer fired: new term, vote for itself,
    /// and ask everyone else (§5.2).
    pub fn start_election(&mut self, now: Tick) -> RequestVote {
        self.current_term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.leader = None;
        self.votes = BTreeSet::from([self.id]);
        self.election_started_at = now;
        RequestVote {
            term: self.current_term,
            candidate: self.id,
            last_log: LogPosition::of(&self.log),
        }
    }

    /// Counts one reply; true when it completes a majority and we lead.
    pub fn handle_vote_reply(
        &mut self,
        from: NodeId,
        term: Term,
        granted: bool,
        majority: usize,
    ) -> bool {
        if self.observe_term(term) {
            return false;
        }
        // A reply for an older election, or to a node that already won or
        // stepped down, changes nothing.
        if self.role != Role::Candidate || term != self.current_term || !granted
        {
            return false;
        }
        self.votes.insert(from);
        self.try_win(majority)
    }

    fn try_win(&mut self, majority: usize) -> bool {
        if self.role != Role::Candidate || self.votes.len() < majority {
            return false;
        }
        self.role = Role::Leader;
        self.leader = Some(self.id);
        // The no-op entry of the new term (thesis §6.4).
        self.log.push(self.current_term);
        true
    }
    // ANCHOR_END: start_election

    // ANCHOR: append_entries
    /// A heartbeat. True when accepted: the caller then resets the election
    /// timer. A candidate that hears from a leader of its own term or a newer
    /// one concedes (§5.2).
    pub fn handle_append_entries(
        &mut self,
        term: Term,
        leader: NodeId,
        log: &[Term],
    ) -> bool {
        self.observe_term(term);
        if term < self.current_term {
            return false;
        }
        if self.role == Role::Leader {
            // Two leaders in one term would break Election Safety; the tests
            // check that it never happens, so refuse rather than hide it.
            return false;
        }
        self.role = Role::Follower;
        self.leader = Some(leader);
        self.log = log.to_vec();
        true
    }
    // ANCHOR_END: append_entries

    pub fn handle_append_reply(&mut self, term: Term) {
        self.observe_term(term);
    }
}

/// A set of nodes cut off from all the others during `from..heal_at`
/// (`None`: never heals).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub side: Vec<NodeId>,
    pub from: Tick,
    pub heal_at: Option<Tick>,
}

impl Partition {
    fn is_active(&self, tick: Tick) -> bool {
        self.from <= tick && self.heal_at.is_none_or(|heal| tick < heal)
    }

    fn separates(&self, a: NodeId, b: NodeId) -> bool {
        self.side.contains(&a) != self.side.contains(&b)
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub nodes: usize,
    pub seed: u64,
    pub election_timeout: RangeInclusive<Tick>,
    pub heartbeat_interval: Tick,
    pub delay: RangeInclusive<Tick>,
    pub drop_probability: f64,
    /// One log per node, or empty for all-empty logs.
    pub initial_logs: Vec<Vec<Term>>,
    pub partitions: Vec<Partition>,
    /// §5.4.1. Turn it off only to watch committed entries get lost.
    pub election_restriction: bool,
}

impl Config {
    /// The paper's timing: timeouts of 150-300 ticks, heartbeats every 50,
    /// one-way delays of 1-10 ticks, no loss and no partitions.
    pub fn new(nodes: usize, seed: u64) -> Self {
        Config {
            nodes,
            seed,
            election_timeout: 150..=300,
            heartbeat_interval: 50,
            delay: 1..=10,
            drop_probability: 0.0,
            initial_logs: Vec::new(),
            partitions: Vec::new(),
            election_restriction: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    NoNodes,
    EmptyTimeoutRange { min: Tick, max: Tick },
    HeartbeatNotBelowTimeout { heartbeat: Tick, min_timeout: Tick },
    EmptyDelayRange { min: Tick, max: Tick },
    ZeroDelay,
    DropProbability(f64),
    LogCount { nodes: usize, logs: usize },
    InvalidLog { node: NodeId },
    UnknownNode { node: NodeId, nodes: usize },
    PartitionHealsBeforeStart { from: Tick, heal_at: Tick },
    PartitionInPast { from: Tick, now: Tick },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoNodes => {
                write!(f, "a cluster needs at least one node")
            }
            ConfigError::EmptyTimeoutRange { min, max } => {
                write!(f, "election timeout range {min}..={max} is empty")
            }
            ConfigError::HeartbeatNotBelowTimeout {
                heartbeat,
                min_timeout,
            } => write!(
                f,
                "heartbeat interval {heartbeat} must be at least 1 and below the shortest election timeout {min_timeout}"
            ),
            ConfigError::EmptyDelayRange { min, max } => {
                write!(f, "delay range {min}..={max} is empty")
            }
            ConfigError::ZeroDelay => {
                write!(f, "a message needs at least one tick to arrive")
            }
            ConfigError::DropProbability(p) => {
                write!(f, "drop probability {p} is not in [0, 1]")
            }
            ConfigError::LogCount { nodes, logs } => {
                write!(f, "{logs} initial logs given for {nodes} nodes")
            }
            ConfigError::InvalidLog { node } => write!(
                f,
                "log of node {node}: terms must be at least 1 and never decrease"
            ),
            ConfigError::UnknownNode { node, nodes } => {
                write!(f, "node {node} does not exist in a cluster of {nodes}")
            }
            ConfigError::PartitionHealsBeforeStart { from, heal_at } => {
                write!(
                    f,
                    "partition from tick {from} heals at tick {heal_at}, before it starts"
                )
            }
            ConfigError::PartitionInPast { from, now } => {
                write!(
                    f,
                    "partition starts at tick {from}, but tick {now} is next"
                )
            }
        }
    }
}

impl Error for ConfigError {}

/// What happened during a tick, for traces and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    PartitionStarted {
        side: Vec<NodeId>,
    },
    PartitionHealed {
        side: Vec<NodeId>,
    },
    ElectionStarted {
        node: NodeId,
        term: Term,
        last_log: LogPosition,
    },
    VoteRefused {
        voter: NodeId,
        candidate: NodeId,
        term: Term,
        candidate_log: LogPosition,
        refusal: Refusal,
    },
    LeaderElected {
        node: NodeId,
        term: Term,
        votes: Vec<NodeId>,
    },
    SteppedDown {
        node: NodeId,
        was: Role,
        term: Term,
    },
}

fn names(ids: &[NodeId]) -> String {
    let names: Vec<String> = ids.iter().map(|id| format!("n{id}")).collect();
    names.join(" ")
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::PartitionStarted { side } => {
                write!(f, "partition: {{{}}} cut off", names(side))
            }
            Event::PartitionHealed { side } => {
                write!(f, "partition of {{{}}} heals", names(side))
            }
            Event::ElectionStarted {
                node,
                term,
                last_log,
            } => write!(
                f,
                "n{node} times out, runs for term {term}, log ends {last_log}"
            ),
            Event::VoteRefused {
                voter,
                candidate,
                term,
                candidate_log,
                refusal,
            } => match refusal {
                Refusal::StaleTerm { voter_term } => write!(
                    f,
                    "n{voter} refuses n{candidate}: term {term} is stale, n{voter} is in term {voter_term}"
                ),
                Refusal::AlreadyVoted { for_node } => write!(
                    f,
                    "n{voter} refuses n{candidate}: already voted for n{for_node} in term {term}"
                ),
                Refusal::LogBehind { voter_log } => write!(
                    f,
                    "n{voter} refuses n{candidate}: log {candidate_log} is behind {voter_log}"
                ),
            },
            Event::LeaderElected { node, term, votes } => {
                write!(
                    f,
                    "n{node} is leader of term {term} (votes: {})",
                    names(votes)
                )
            }
            Event::SteppedDown { node, was, term } => {
                write!(
                    f,
                    "n{node} steps down from {was}, follower in term {term}"
                )
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Envelope {
    from: NodeId,
    to: NodeId,
    message: Message,
}

/// The cluster, the network and the clock.
pub struct Simulation {
    config: Config,
    nodes: Vec<Node>,
    rng: SplitMix64,
    now: Tick,
    /// In-flight messages keyed by (delivery tick, send order): a BTreeMap
    /// pops them in a fixed order, which keeps runs reproducible.
    in_flight: BTreeMap<(Tick, u64), Envelope>,
    sent: u64,
}

// ANCHOR: validate
fn validate(config: &Config) -> Result<(), ConfigError> {
    if config.nodes == 0 {
        return Err(ConfigError::NoNodes);
    }
    let (min, max) = (
        *config.election_timeout.start(),
        *config.election_timeout.end(),
    );
    if min > max {
        return Err(ConfigError::EmptyTimeoutRange { min, max });
    }
    if config.heartbeat_interval == 0 || config.heartbeat_interval >= min {
        return Err(ConfigError::HeartbeatNotBelowTimeout {
            heartbeat: config.heartbeat_interval,
            min_timeout: min,
        });
    }
    let (dmin, dmax) = (*config.delay.start(), *config.delay.end());
    if dmin > dmax {
        return Err(ConfigError::EmptyDelayRange {
            min: dmin,
            max: dmax,
        });
    }
    if dmin == 0 {
        return Err(ConfigError::ZeroDelay);
    }
    // `contains` is false for NaN as well.
    if !(0.0..=1.0).contains(&config.drop_probability) {
        return Err(ConfigError::DropProbability(config.drop_probability));
    }
    if !config.initial_logs.is_empty()
        && config.initial_logs.len() != config.nodes
    {
        return Err(ConfigError::LogCount {
            nodes: config.nodes,
            logs: config.initial_logs.len(),
        });
    }
    for (node, log) in config.initial_logs.iter().enumerate() {
        let starts_at_one = log.first().is_none_or(|&t| t >= 1);
        if !starts_at_one || log.windows(2).any(|w| w[0] > w[1]) {
            return Err(ConfigError::InvalidLog { node });
        }
    }
    for partition in &config.partitions {
        validate_partition(partition, config.nodes)?;
    }
    Ok(())
}
// ANCHOR_END: validate

fn validate_partition(
    partition: &Partition,
    nodes: usize,
) -> Result<(), ConfigError> {
    if let Some(&node) = partition.side.iter().find(|&&id| id >= nodes) {
        return Err(ConfigError::UnknownNode { node, nodes });
    }
    if let Some(heal_at) = partition.heal_at
        && heal_at <= partition.from
    {
        return Err(ConfigError::PartitionHealsBeforeStart {
            from: partition.from,
            heal_at,
        });
    }
    Ok(())
}

impl Simulation {
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        validate(&config)?;
        let logs = if config.initial_logs.is_empty() {
            vec![Vec::new(); config.nodes]
        } else {
            config.initial_logs.clone()
        };
        let start_term = logs
            .iter()
            .filter_map(|log| log.last())
            .copied()
            .max()
            .unwrap_or(0);
        let nodes = logs
            .into_iter()
            .enumerate()
            .map(|(id, log)| Node::new(id, start_term, log))
            .collect();
        let mut sim = Simulation {
            rng: SplitMix64::new(config.seed),
            config,
            nodes,
            now: 0,
            in_flight: BTreeMap::new(),
            sent: 0,
        };
        for id in 0..sim.nodes.len() {
            sim.reset_election_timer(id);
        }
        Ok(sim)
    }

    pub fn now(&self) -> Tick {
        self.now
    }
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    pub fn majority(&self) -> usize {
        self.nodes.len() / 2 + 1
    }

    /// Cuts `side` off from the rest for `ticks` ticks, from the next tick.
    pub fn isolate(
        &mut self,
        side: &[NodeId],
        ticks: Tick,
    ) -> Result<Tick, ConfigError> {
        let from = self.now;
        let heal_at = from.saturating_add(ticks);
        self.add_partition(Partition {
            side: side.to_vec(),
            from,
            heal_at: Some(heal_at),
        })?;
        Ok(heal_at)
    }

    pub fn add_partition(
        &mut self,
        partition: Partition,
    ) -> Result<(), ConfigError> {
        validate_partition(&partition, self.nodes.len())?;
        if partition.from < self.now {
            return Err(ConfigError::PartitionInPast {
                from: partition.from,
                now: self.now,
            });
        }
        self.config.partitions.push(partition);
        Ok(())
    }

    /// A leader that a majority (itself included) knows as leader of its term.
    pub fn stable_leader(&self) -> Option<(NodeId, Term)> {
        self.nodes
            .iter()
            .filter(|node| node.role == Role::Leader)
            .find(|leader| {
                let backers = self
                    .nodes
                    .iter()
                    .filter(|n| {
                        n.current_term == leader.current_term
                            && n.leader == Some(leader.id)
                    })
                    .count();
                backers >= self.majority()
            })
            .map(|leader| (leader.id, leader.current_term))
    }

    fn link_up(&self, a: NodeId, b: NodeId, tick: Tick) -> bool {
        !self
            .config
            .partitions
            .iter()
            .any(|p| p.is_active(tick) && p.separates(a, b))
    }

    fn reset_election_timer(&mut self, id: NodeId) {
        let timeout = self.rng.in_range(&self.config.election_timeout);
        self.nodes[id].election_deadline = self.now + timeout;
    }

    // ANCHOR: send
    fn send(&mut self, from: NodeId, to: NodeId, message: Message) {
        if !self.link_up(from, to, self.now)
            || self.rng.chance(self.config.drop_probability)
        {
            return;
        }
        let arrival = self.now + self.rng.in_range(&self.config.delay);
        self.in_flight
            .insert((arrival, self.sent), Envelope { from, to, message });
        self.sent += 1;
    }
    // ANCHOR_END: send

    fn broadcast(&mut self, from: NodeId, message: &Message) {
        for to in (0..self.nodes.len()).filter(|&to| to != from) {
            self.send(from, to, message.clone());
        }
    }

    // ANCHOR: tick
    /// Runs one tick: partitions start or heal, due messages arrive (each
    /// handler may send more), then every node's timers fire, in id order.
    pub fn tick(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        self.announce_partitions(&mut events);
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let envelope = entry.remove();
            if self.link_up(envelope.from, envelope.to, self.now) {
                self.deliver(envelope, &mut events);
            }
        }
        for id in 0..self.nodes.len() {
            self.fire_timers(id, &mut events);
        }
        self.now += 1;
        events
    }
    // ANCHOR_END: tick

    fn announce_partitions(&self, events: &mut Vec<Event>) {
        for p in &self.config.partitions {
            if p.from == self.now {
                events.push(Event::PartitionStarted {
                    side: p.side.clone(),
                });
            }
            if p.heal_at == Some(self.now) {
                events.push(Event::PartitionHealed {
                    side: p.side.clone(),
                });
            }
        }
    }

    fn deliver(&mut self, envelope: Envelope, events: &mut Vec<Event>) {
        let Envelope { from, to, message } = envelope;
        let was = self.nodes[to].role;
        match message {
            Message::RequestVote(request) => {
                let restrict = self.config.election_restriction;
                let verdict =
                    self.nodes[to].handle_request_vote(&request, restrict);
                self.note_role_change(to, was, events);
                match verdict {
                    // Granting a vote resets the timer (Figure 2, followers).
                    Ok(()) => self.reset_election_timer(to),
                    Err(refusal) => events.push(Event::VoteRefused {
                        voter: to,
                        candidate: from,
                        term: request.term,
                        candidate_log: request.last_log,
                        refusal,
                    }),
                }
                let term = self.nodes[to].current_term;
                let granted = verdict.is_ok();
                self.send(to, from, Message::VoteReply { term, granted });
            }
            Message::VoteReply { term, granted } => {
                let majority = self.majority();
                let won = self.nodes[to]
                    .handle_vote_reply(from, term, granted, majority);
                self.note_role_change(to, was, events);
                if won {
                    self.announce_leader(to, events);
                }
            }
            Message::AppendEntries { term, leader, log } => {
                let accepted =
                    self.nodes[to].handle_append_entries(term, leader, &log);
                self.note_role_change(to, was, events);
                if accepted {
                    self.reset_election_timer(to);
                }
                let term = self.nodes[to].current_term;
                self.send(to, from, Message::AppendReply { term });
            }
            Message::AppendReply { term } => {
                self.nodes[to].handle_append_reply(term);
                self.note_role_change(to, was, events);
            }
        }
    }

    fn note_role_change(
        &mut self,
        id: NodeId,
        was: Role,
        events: &mut Vec<Event>,
    ) {
        let node = &self.nodes[id];
        if was != Role::Follower && node.role == Role::Follower {
            events.push(Event::SteppedDown {
                node: id,
                was,
                term: node.current_term,
            });
            if was == Role::Leader {
                // A leader keeps no election timer; a new follower needs one.
                self.reset_election_timer(id);
            }
        }
    }

    fn announce_leader(&mut self, id: NodeId, events: &mut Vec<Event>) {
        let node = &mut self.nodes[id];
        node.next_heartbeat = self.now; // heartbeat at once, this tick
        events.push(Event::LeaderElected {
            node: id,
            term: node.current_term,
            votes: node.votes.iter().copied().collect(),
        });
    }

    // ANCHOR: timers
    fn fire_timers(&mut self, id: NodeId, events: &mut Vec<Event>) {
        let node = &self.nodes[id];
        if node.role == Role::Leader {
            if self.now >= node.next_heartbeat {
                let heartbeat = Message::AppendEntries {
                    term: node.current_term,
                    leader: id,
                    log: node.log.clone(),
                };
                self.nodes[id].next_heartbeat =
                    self.now + self.config.heartbeat_interval;
                self.broadcast(id, &heartbeat);
            }
            return;
        }
        if self.now < node.election_deadline {
            return;
        }
        let request = self.nodes[id].start_election(self.now);
        events.push(Event::ElectionStarted {
            node: id,
            term: request.term,
            last_log: request.last_log,
        });
        // A fresh random timeout: if this election splits, the next one
        // starts at a different moment on each node.
        self.reset_election_timer(id);
        self.broadcast(id, &Message::RequestVote(request));
        let majority = self.majority();
        if self.nodes[id].try_win(majority) {
            self.announce_leader(id, events); // a one-node cluster
        }
    }
    // ANCHOR_END: timers
}

// ANCHOR: main
fn print_events(sim: &mut Simulation) {
    let tick = sim.now();
    for event in sim.tick() {
        println!("t={tick:<5} {event}");
    }
}

/// Runs until `done` holds, printing every event; `None` after `limit` ticks.
fn run_until<T>(
    sim: &mut Simulation,
    limit: Tick,
    done: impl Fn(&Simulation) -> Option<T>,
) -> Option<T> {
    for _ in 0..limit {
        print_events(sim);
        if let Some(found) = done(sim) {
            return Some(found);
        }
    }
    None
}

/// The leader that every node knows, in the leader's term, if there is one.
fn agreed_leader(sim: &Simulation) -> Option<(NodeId, Term)> {
    let (leader, term) = sim.stable_leader()?;
    let all_follow = sim.nodes().iter().all(|n| {
        n.current_term() == term
            && n.known_leader() == Some(leader)
            && (n.id() == leader || n.role() == Role::Follower)
    });
    all_follow.then_some((leader, term))
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut config = Config::new(5, SEED);
    // n4 was down while entry 2 (term 1) was committed on the other four.
    config.initial_logs =
        vec![vec![1, 1], vec![1, 1], vec![1, 1], vec![1, 1], vec![1]];
    config.drop_probability = 0.01;
    println!(
        "5 nodes, seed {}: timeouts {:?} ticks, heartbeat every {}, delay {:?}, {}% loss",
        config.seed,
        config.election_timeout,
        config.heartbeat_interval,
        config.delay,
        config.drop_probability * 100.0
    );
    let mut sim = Simulation::new(config)?;

    let (leader, term) =
        run_until(&mut sim, 3_000, agreed_leader).ok_or("no leader")?;
    println!(
        "-- n{leader} leads term {term}; cut it off with one follower for 800 ticks"
    );
    let buddy = (leader + 1) % 5;
    sim.isolate(&[leader, buddy], 800)?;
    for _ in 0..800 {
        print_events(&mut sim);
    }

    let (leader, term) =
        run_until(&mut sim, 3_000, agreed_leader).ok_or("no leader")?;
    println!(
        "-- t={}: every node follows n{leader} in term {term}",
        sim.now()
    );
    for node in sim.nodes() {
        println!(
            "   n{}: {:<9} term {} log {:?}",
            node.id(),
            node.role().to_string(),
            node.current_term(),
            node.log()
        );
    }
    Ok(())
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;

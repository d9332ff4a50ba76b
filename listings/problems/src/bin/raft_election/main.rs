//! 4.10 Raft leader election, simulated tick by tick with no threads and no
//! clock: which node leads, and why never two in one term?
//!
//! What the simulation models (Ongaro and Ousterhout, "In Search of an
//! Understandable Consensus Algorithm (Extended Version)", §5.2, §5.4.1 and
//! Figure 2; Ongaro, "Consensus: Bridging Theory and Practice", §9.6):
//! - N nodes, any N >= 1, even or odd. Each is a follower, a pre-candidate,
//!   a candidate or the leader, with the persistent state of Figure 2:
//!   `current_term`, `voted_for` and a log. A log entry is only its term
//!   (there are no commands); `log[i]` is the entry at index `i + 1`.
//! - A disk per node. The persistent state is copied to it before the node
//!   sends anything (Figure 2: "updated on stable storage before responding
//!   to RPCs"). A crash loses everything else; a restart reloads the disk.
//! - Randomized election timeouts drawn afresh from `election_timeout`
//!   (150..=300 ticks by default, the paper's 150-300 ms with 1 tick = 1 ms).
//! - RequestVote with the term check (stale terms refused, higher terms
//!   adopted) and the §5.4.1 up-to-date check (last term, then last index);
//!   one vote per term (`voted_for`).
//! - Pre-Vote (thesis §9.6), when `pre_vote` is on: a node whose timer fires
//!   first asks whether a majority would vote for it in the next term, and
//!   only then increments its term. A voter answers as it would answer
//!   RequestVote, changes nothing, and refuses while it has heard from a
//!   current leader within the minimum election timeout.
//! - Heartbeats: AppendEntries from the leader every `heartbeat_interval`
//!   ticks. They reset followers' election timers, and a candidate steps
//!   down when the leader's term is at least its own.
//! - A network that delays each message by a uniform number of ticks in
//!   `delay` and cuts the links across partitions (a message needs the link
//!   up when sent and when delivered). Until `faults.until` it also drops
//!   messages, delivers some twice, holds some longer than any election
//!   timeout (so they arrive after newer ones), and crashes nodes, which
//!   restart after a random downtime.
//! - A `Checker` that watches every tick for the safety properties: one
//!   leader per term, one vote per node per term, a majority behind every
//!   elected leader, and every committed entry in every later leader's log.
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
//!   [0, 1], a heartbeat not shorter than the timeout, malformed logs,
//!   partitions or crashes) is a `ConfigError`, never a panic.

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

    /// True with probability `p`: the top 53 bits as a fraction in [0, 1).
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
    /// Thesis §9.6: asking for pre-votes, still in its old term.
    PreCandidate,
    Candidate,
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
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

/// The messages of Figure 2, cut down to what election needs, plus the
/// pre-vote pair of thesis §9.6 (a PreVote carries the term the candidate
/// would run for, and changes nothing on the voter). AppendEntries carries
/// the leader's whole log instead of `prevLogIndex`/`entries`, and its
/// reply has no `success` flag because nothing tracks `matchIndex`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    PreVote(RequestVote),
    PreVoteReply {
        term: Term,
        granted: bool,
    },
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
    /// §9.6, pre-votes only: the voter heard from this leader within the
    /// minimum election timeout (a leader names itself).
    LeaderActive { leader: NodeId },
}

// ANCHOR: disk
/// A node's stable storage: the state Figure 2 says a server must write
/// before it responds to an RPC. It is all that survives a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    pub current_term: Term,
    pub voted_for: Option<NodeId>,
    pub log: Vec<Term>,
}
// ANCHOR_END: disk

// ANCHOR: node
/// One server's memory. The simulation copies `current_term`, `voted_for`
/// and `log` to the node's `Disk` before the node sends anything.
#[derive(Clone, Debug)]
pub struct Node {
    id: NodeId,
    role: Role,
    current_term: Term,
    voted_for: Option<NodeId>,
    log: Vec<Term>,
    /// Whom this node takes to be the leader of `current_term`, if anyone.
    leader: Option<NodeId>,
    /// When it last accepted a heartbeat from that leader (for §9.6).
    heard_from_leader_at: Option<Tick>,
    /// Pre-votes while a pre-candidate, votes while a candidate.
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
            heard_from_leader_at: None,
            votes: BTreeSet::new(),
            election_started_at: 0,
            election_deadline: 0,
            next_heartbeat: 0,
        }
    }

    /// A node after a restart: the disk's state, a follower, nothing else.
    pub fn restore(id: NodeId, disk: &Disk) -> Self {
        Node {
            voted_for: disk.voted_for,
            ..Node::new(id, disk.current_term, disk.log.clone())
        }
    }

    /// What this node would write to its disk now.
    pub fn persistent_state(&self) -> Disk {
        Disk {
            current_term: self.current_term,
            voted_for: self.voted_for,
            log: self.log.clone(),
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
    /// The checks of Figure 2's RequestVote receiver, as a question that
    /// changes nothing: would this server vote for `request`? Pre-Vote asks
    /// the same question.
    fn vote_verdict(
        &self,
        request: &RequestVote,
        election_restriction: bool,
    ) -> Result<(), Refusal> {
        if request.term < self.current_term {
            return Err(Refusal::StaleTerm {
                voter_term: self.current_term,
            });
        }
        // In a term newer than ours, no vote is cast yet.
        let cast = if request.term == self.current_term {
            self.voted_for
        } else {
            None
        };
        if let Some(other) = cast
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
        Ok(())
    }

    /// The RequestVote receiver: adopt a newer term first, then vote if the
    /// checks pass. The caller writes the vote to disk before replying.
    pub fn handle_request_vote(
        &mut self,
        request: &RequestVote,
        election_restriction: bool,
    ) -> Result<(), Refusal> {
        self.observe_term(request.term);
        self.vote_verdict(request, election_restriction)?;
        self.voted_for = Some(request.candidate);
        Ok(())
    }
    // ANCHOR_END: request_vote

    // ANCHOR: pre_vote
    /// Thesis §9.6, the voter's side: answer as RequestVote would, change
    /// nothing (not even the term), and refuse while a current leader was
    /// heard from within `quiet` ticks, the minimum election timeout.
    pub fn handle_pre_vote(
        &self,
        request: &RequestVote,
        now: Tick,
        quiet: Tick,
        election_restriction: bool,
    ) -> Result<(), Refusal> {
        if let Some(leader) = self.current_leader(now, quiet) {
            return Err(Refusal::LeaderActive { leader });
        }
        self.vote_verdict(request, election_restriction)
    }

    /// A leader is a current leader; a follower's leader is one while its
    /// heartbeats are fresher than `quiet` ticks.
    fn current_leader(&self, now: Tick, quiet: Tick) -> Option<NodeId> {
        if self.role == Role::Leader {
            return Some(self.id);
        }
        let heard = self.heard_from_leader_at?;
        self.leader.filter(|_| now < heard + quiet)
    }

    /// The candidate's side: ask for the next term, keeping our own.
    pub fn start_pre_vote(&mut self) -> RequestVote {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes = BTreeSet::from([self.id]);
        RequestVote {
            term: self.current_term + 1,
            candidate: self.id,
            last_log: LogPosition::of(&self.log),
        }
    }

    /// Counts one pre-vote reply; true once a majority said yes, and the
    /// caller then starts the real election. A refusal carries the voter's
    /// term, which we adopt if it is newer, as with any message.
    pub fn handle_pre_vote_reply(
        &mut self,
        from: NodeId,
        term: Term,
        granted: bool,
        majority: usize,
    ) -> bool {
        if !granted {
            self.observe_term(term);
            return false;
        }
        if self.role != Role::PreCandidate || term != self.current_term + 1 {
            return false;
        }
        self.votes.insert(from);
        self.votes.len() >= majority
    }
    // ANCHOR_END: pre_vote

    // ANCHOR: start_election
    /// Figure 2, on conversion to candidate: new term, vote for itself,
    /// and ask everyone else (§5.2). The caller resets the timer.
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
        // stepped down, changes nothing. A set counts a duplicate once.
        if self.role != Role::Candidate || term != self.current_term {
            return false;
        }
        if granted {
            self.votes.insert(from);
        }
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
        now: Tick,
    ) -> bool {
        self.observe_term(term);
        if term < self.current_term {
            return false;
        }
        if self.role == Role::Leader {
            // Two leaders in one term would break Election Safety; the
            // checker watches for it, so refuse rather than hide it.
            return false;
        }
        self.role = Role::Follower;
        self.leader = Some(leader);
        self.heard_from_leader_at = Some(now);
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

/// A node that goes down at tick `at` and restarts at `restart_at`
/// (`None`: stays down).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    pub node: NodeId,
    pub at: Tick,
    pub restart_at: Option<Tick>,
}

// ANCHOR: faults
/// What goes wrong before tick `until`, on top of the normal `delay`.
/// The message probabilities apply to each message sent; `crash` applies
/// to each running node at each tick. From `until` on, no new faults.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    pub until: Tick,
    pub drop: f64,
    /// A second copy, with its own delay.
    pub duplicate: f64,
    /// Held for `long_delay` ticks instead: longer than an election
    /// timeout, so it arrives after messages sent later.
    pub long: f64,
    pub long_delay: RangeInclusive<Tick>,
    pub crash: f64,
    /// How long a crashed node stays down.
    pub downtime: RangeInclusive<Tick>,
}
// ANCHOR_END: faults

impl Faults {
    /// A reliable network and nodes that never crash. Setting a probability
    /// turns that fault on for the whole run.
    pub fn none() -> Self {
        Faults {
            until: Tick::MAX,
            drop: 0.0,
            duplicate: 0.0,
            long: 0.0,
            long_delay: 301..=900,
            crash: 0.0,
            downtime: 1..=300,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub nodes: usize,
    pub seed: u64,
    pub election_timeout: RangeInclusive<Tick>,
    pub heartbeat_interval: Tick,
    pub delay: RangeInclusive<Tick>,
    pub faults: Faults,
    /// One log per node, or empty for all-empty logs.
    pub initial_logs: Vec<Vec<Term>>,
    pub partitions: Vec<Partition>,
    pub crashes: Vec<Crash>,
    /// §5.4.1. Turn it off only to watch committed entries get lost.
    pub election_restriction: bool,
    /// Thesis §9.6. Off by default, as in the paper's basic algorithm.
    pub pre_vote: bool,
}

impl Config {
    /// The paper's timing: timeouts of 150-300 ticks, heartbeats every 50,
    /// one-way delays of 1-10 ticks; no faults, no partitions, no Pre-Vote.
    pub fn new(nodes: usize, seed: u64) -> Self {
        Config {
            nodes,
            seed,
            election_timeout: 150..=300,
            heartbeat_interval: 50,
            delay: 1..=10,
            faults: Faults::none(),
            initial_logs: Vec::new(),
            partitions: Vec::new(),
            crashes: Vec::new(),
            election_restriction: true,
            pre_vote: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    NoNodes,
    EmptyRange {
        what: &'static str,
        min: Tick,
        max: Tick,
    },
    /// A delay or a downtime that could be zero ticks.
    ZeroTicks {
        what: &'static str,
    },
    HeartbeatNotBelowTimeout {
        heartbeat: Tick,
        min_timeout: Tick,
    },
    Probability {
        what: &'static str,
        value: f64,
    },
    LogCount {
        nodes: usize,
        logs: usize,
    },
    InvalidLog {
        node: NodeId,
    },
    UnknownNode {
        node: NodeId,
        nodes: usize,
    },
    EndsBeforeStart {
        from: Tick,
        until: Tick,
    },
    InPast {
        from: Tick,
        now: Tick,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoNodes => {
                write!(f, "a cluster needs at least one node")
            }
            ConfigError::EmptyRange { what, min, max } => {
                write!(f, "{what} range {min}..={max} is empty")
            }
            ConfigError::ZeroTicks { what } => {
                write!(f, "{what} must be at least one tick")
            }
            ConfigError::HeartbeatNotBelowTimeout {
                heartbeat,
                min_timeout,
            } => write!(
                f,
                "heartbeat interval {heartbeat} must be at least 1 and below \
                 the shortest election timeout {min_timeout}"
            ),
            ConfigError::Probability { what, value } => {
                write!(f, "{what} probability {value} is not in [0, 1]")
            }
            ConfigError::LogCount { nodes, logs } => {
                write!(f, "{logs} initial logs given for {nodes} nodes")
            }
            ConfigError::InvalidLog { node } => write!(
                f,
                "log of node {node}: terms must be at least 1 and never \
                 decrease"
            ),
            ConfigError::UnknownNode { node, nodes } => {
                write!(f, "node {node} does not exist in a cluster of {nodes}")
            }
            ConfigError::EndsBeforeStart { from, until } => write!(
                f,
                "a partition or crash from tick {from} ends at tick {until}, \
                 before it starts"
            ),
            ConfigError::InPast { from, now } => write!(
                f,
                "a partition or crash starts at tick {from}, but tick {now} \
                 is next"
            ),
        }
    }
}

impl Error for ConfigError {}

/// What happened during a tick, for traces and the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    PartitionStarted {
        side: Vec<NodeId>,
    },
    PartitionHealed {
        side: Vec<NodeId>,
    },
    Crashed {
        node: NodeId,
    },
    Restarted {
        node: NodeId,
        disk: Disk,
    },
    PreVoteStarted {
        node: NodeId,
        term: Term,
        last_log: LogPosition,
    },
    /// The candidate's own vote, cast in `term`.
    ElectionStarted {
        node: NodeId,
        term: Term,
        last_log: LogPosition,
    },
    VoteGranted {
        voter: NodeId,
        candidate: NodeId,
        term: Term,
    },
    VoteRefused {
        voter: NodeId,
        candidate: NodeId,
        term: Term,
        candidate_log: LogPosition,
        refusal: Refusal,
        pre_vote: bool,
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

fn vote_name(vote: Option<NodeId>) -> String {
    vote.map_or("nobody".to_string(), |id| format!("n{id}"))
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
            Event::Crashed { node } => write!(f, "n{node} crashes"),
            Event::Restarted { node, disk } => write!(
                f,
                "n{node} restarts from disk: term {}, voted for {}, log {:?}",
                disk.current_term,
                vote_name(disk.voted_for),
                disk.log
            ),
            Event::PreVoteStarted {
                node,
                term,
                last_log,
            } => write!(
                f,
                "n{node} times out, asks for pre-votes for term {term}, \
                 log ends {last_log}"
            ),
            Event::ElectionStarted {
                node,
                term,
                last_log,
            } => write!(f, "n{node} runs for term {term}, log ends {last_log}"),
            Event::VoteGranted {
                voter,
                candidate,
                term,
            } => write!(f, "n{voter} votes for n{candidate} in term {term}"),
            Event::VoteRefused {
                voter,
                candidate,
                term,
                candidate_log,
                refusal,
                pre_vote,
            } => {
                let what = if *pre_vote { " a pre-vote" } else { "" };
                write!(f, "n{voter} refuses n{candidate}{what}: ")?;
                match refusal {
                    Refusal::StaleTerm { voter_term } => write!(
                        f,
                        "term {term} is stale, n{voter} is in term \
                         {voter_term}"
                    ),
                    Refusal::AlreadyVoted { for_node } => write!(
                        f,
                        "already voted for n{for_node} in term {term}"
                    ),
                    Refusal::LogBehind { voter_log } => {
                        write!(f, "log {candidate_log} is behind {voter_log}")
                    }
                    Refusal::LeaderActive { leader } if leader == voter => {
                        write!(f, "it is the leader")
                    }
                    Refusal::LeaderActive { leader } => {
                        write!(f, "it heard from leader n{leader} recently")
                    }
                }
            }
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

/// The cluster, its disks, the network and the clock.
pub struct Simulation {
    config: Config,
    nodes: Vec<Node>,
    /// Each node's stable storage, which outlives its crashes.
    disks: Vec<Disk>,
    /// While a node is down: the tick it restarts (`Tick::MAX`: never).
    down_until: Vec<Option<Tick>>,
    rng: SplitMix64,
    now: Tick,
    /// In-flight messages keyed by (delivery tick, send order): a BTreeMap
    /// pops them in a fixed order, which keeps runs reproducible.
    in_flight: BTreeMap<(Tick, u64), Envelope>,
    sent: u64,
    /// The mutation tests plant one bug in every node (see `Bug` in
    /// tests.rs). Only the test build has this field: the program and the
    /// code the chapter shows are the correct algorithm.
    #[cfg(test)]
    bug: Option<tests::Bug>,
}

fn check_range(
    what: &'static str,
    range: &RangeInclusive<Tick>,
) -> Result<(), ConfigError> {
    let (min, max) = (*range.start(), *range.end());
    if min > max {
        return Err(ConfigError::EmptyRange { what, min, max });
    }
    Ok(())
}

fn check_ticks(
    what: &'static str,
    range: &RangeInclusive<Tick>,
) -> Result<(), ConfigError> {
    check_range(what, range)?;
    if *range.start() == 0 {
        return Err(ConfigError::ZeroTicks { what });
    }
    Ok(())
}

fn check_probability(what: &'static str, p: f64) -> Result<(), ConfigError> {
    // `contains` is false for NaN as well.
    if !(0.0..=1.0).contains(&p) {
        return Err(ConfigError::Probability { what, value: p });
    }
    Ok(())
}

// ANCHOR: validate
fn validate(config: &Config) -> Result<(), ConfigError> {
    if config.nodes == 0 {
        return Err(ConfigError::NoNodes);
    }
    check_range("election timeout", &config.election_timeout)?;
    let min_timeout = *config.election_timeout.start();
    let heartbeat = config.heartbeat_interval;
    if heartbeat == 0 || heartbeat >= min_timeout {
        return Err(ConfigError::HeartbeatNotBelowTimeout {
            heartbeat,
            min_timeout,
        });
    }
    check_ticks("delay", &config.delay)?;
    let faults = &config.faults;
    check_ticks("long delay", &faults.long_delay)?;
    check_ticks("downtime", &faults.downtime)?;
    check_probability("drop", faults.drop)?;
    check_probability("duplicate", faults.duplicate)?;
    check_probability("long delay", faults.long)?;
    check_probability("crash", faults.crash)?;
    let logs = config.initial_logs.len();
    if logs != 0 && logs != config.nodes {
        return Err(ConfigError::LogCount {
            nodes: config.nodes,
            logs,
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
    for crash in &config.crashes {
        validate_crash(crash, config.nodes)?;
    }
    Ok(())
}
// ANCHOR_END: validate

fn validate_node(node: NodeId, nodes: usize) -> Result<(), ConfigError> {
    if node >= nodes {
        return Err(ConfigError::UnknownNode { node, nodes });
    }
    Ok(())
}

fn validate_span(from: Tick, until: Option<Tick>) -> Result<(), ConfigError> {
    if let Some(until) = until
        && until <= from
    {
        return Err(ConfigError::EndsBeforeStart { from, until });
    }
    Ok(())
}

fn validate_partition(
    partition: &Partition,
    nodes: usize,
) -> Result<(), ConfigError> {
    for &node in &partition.side {
        validate_node(node, nodes)?;
    }
    validate_span(partition.from, partition.heal_at)
}

fn validate_crash(crash: &Crash, nodes: usize) -> Result<(), ConfigError> {
    validate_node(crash.node, nodes)?;
    validate_span(crash.at, crash.restart_at)
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
        let nodes: Vec<Node> = logs
            .into_iter()
            .enumerate()
            .map(|(id, log)| Node::new(id, start_term, log))
            .collect();
        let mut sim = Simulation {
            rng: SplitMix64::new(config.seed),
            disks: nodes.iter().map(Node::persistent_state).collect(),
            down_until: vec![None; config.nodes],
            config,
            nodes,
            now: 0,
            in_flight: BTreeMap::new(),
            sent: 0,
            #[cfg(test)]
            bug: None,
        };
        for id in 0..sim.nodes.len() {
            sim.reset_election_timer(id);
        }
        Ok(sim)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The tick that `tick` runs next.
    pub fn now(&self) -> Tick {
        self.now
    }
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    pub fn disk(&self, id: NodeId) -> &Disk {
        &self.disks[id]
    }
    pub fn is_up(&self, id: NodeId) -> bool {
        self.down_until[id].is_none()
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
        self.not_in_past(partition.from)?;
        self.config.partitions.push(partition);
        Ok(())
    }

    pub fn add_crash(&mut self, crash: Crash) -> Result<(), ConfigError> {
        validate_crash(&crash, self.nodes.len())?;
        self.not_in_past(crash.at)?;
        self.config.crashes.push(crash);
        Ok(())
    }

    fn not_in_past(&self, from: Tick) -> Result<(), ConfigError> {
        if from < self.now {
            return Err(ConfigError::InPast {
                from,
                now: self.now,
            });
        }
        Ok(())
    }

    /// A leader that a majority (itself included) knows as leader of its
    /// term. Down nodes know nothing: a crash wiped their memory.
    pub fn stable_leader(&self) -> Option<(NodeId, Term)> {
        self.nodes
            .iter()
            .filter(|node| node.role == Role::Leader && self.is_up(node.id))
            .find(|leader| {
                let backers = self
                    .nodes
                    .iter()
                    .filter(|n| {
                        self.is_up(n.id)
                            && n.current_term == leader.current_term
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

    fn faults_on(&self) -> bool {
        self.now < self.config.faults.until
    }

    /// True with probability `p`; draws from the PRNG only when `p > 0`, so
    /// that a fault that is off leaves the rest of the run unchanged.
    fn roll(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.chance(p)
    }

    fn reset_election_timer(&mut self, id: NodeId) {
        let timeout = self.rng.in_range(&self.config.election_timeout);
        self.nodes[id].election_deadline = self.now + timeout;
    }

    // ANCHOR: send
    /// Puts a message on the wire. While faults are on it may be dropped,
    /// duplicated, or held past any election timeout; each copy draws its
    /// own delay, so messages on one link overtake each other.
    fn send(&mut self, from: NodeId, to: NodeId, message: Message) {
        let faults = self.faults_on();
        if !self.link_up(from, to, self.now)
            || faults && self.roll(self.config.faults.drop)
        {
            return;
        }
        let twice = faults && self.roll(self.config.faults.duplicate);
        for _ in 0..if twice { 2 } else { 1 } {
            let delay = if faults && self.roll(self.config.faults.long) {
                self.rng.in_range(&self.config.faults.long_delay)
            } else {
                self.rng.in_range(&self.config.delay)
            };
            let envelope = Envelope {
                from,
                to,
                message: message.clone(),
            };
            self.in_flight
                .insert((self.now + delay, self.sent), envelope);
            self.sent += 1;
        }
    }
    // ANCHOR_END: send

    fn broadcast(&mut self, from: NodeId, message: &Message) {
        for to in (0..self.nodes.len()).filter(|&to| to != from) {
            self.send(from, to, message.clone());
        }
    }

    // ANCHOR: tick
    /// Runs one tick: partitions start or heal, nodes crash or restart, due
    /// messages reach running nodes (each handler may send more), then every
    /// running node's timers fire, in id order.
    pub fn tick(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        self.announce_partitions(&mut events);
        self.crash_and_restart(&mut events);
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let envelope = entry.remove();
            let (from, to) = (envelope.from, envelope.to);
            if self.is_up(to) && self.link_up(from, to, self.now) {
                self.deliver(envelope, &mut events);
            }
        }
        for id in 0..self.nodes.len() {
            if self.is_up(id) {
                self.fire_timers(id, &mut events);
            }
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

    fn crash_and_restart(&mut self, events: &mut Vec<Event>) {
        for id in 0..self.nodes.len() {
            if self.down_until[id] == Some(self.now) {
                self.restart(id, events);
            }
        }
        for i in 0..self.config.crashes.len() {
            let Crash {
                node,
                at,
                restart_at,
            } = self.config.crashes[i];
            if at == self.now {
                self.crash(node, restart_at, events);
            }
        }
        if !self.faults_on() || self.config.faults.crash == 0.0 {
            return;
        }
        for id in 0..self.nodes.len() {
            if self.is_up(id) && self.roll(self.config.faults.crash) {
                let downtime = self.rng.in_range(&self.config.faults.downtime);
                self.crash(id, Some(self.now + downtime), events);
            }
        }
    }

    // ANCHOR: crash
    /// A crash wipes the node's memory: what is left is its disk, which a
    /// restart loads. Messages that reach it while it is down are lost.
    fn crash(
        &mut self,
        id: NodeId,
        restart_at: Option<Tick>,
        events: &mut Vec<Event>,
    ) {
        if self.is_up(id) {
            self.nodes[id] = Node::restore(id, &self.disks[id]);
            events.push(Event::Crashed { node: id });
        }
        self.down_until[id] = Some(restart_at.unwrap_or(Tick::MAX));
    }

    fn restart(&mut self, id: NodeId, events: &mut Vec<Event>) {
        self.down_until[id] = None;
        self.nodes[id] = Node::restore(id, &self.disks[id]);
        self.reset_election_timer(id);
        let disk = self.disks[id].clone();
        events.push(Event::Restarted { node: id, disk });
    }
    // ANCHOR_END: crash

    fn deliver(&mut self, envelope: Envelope, events: &mut Vec<Event>) {
        // The one seam for the mutation tests: with a bug planted, tests.rs
        // tampers with the message or the node around `handle`. The
        // program never compiles this branch.
        #[cfg(test)]
        if self.bug.is_some() {
            return tests::deliver_with_bug(self, envelope, events);
        }
        self.handle(envelope, events);
    }

    // ANCHOR: handle
    /// Figure 2: persistent state reaches stable storage before the server
    /// responds. Whatever changes that state calls this before it sends.
    fn persist(&mut self, id: NodeId) {
        let node = &self.nodes[id];
        let disk = &mut self.disks[id];
        if disk.current_term != node.current_term
            || disk.voted_for != node.voted_for
            || disk.log != node.log
        {
            *disk = node.persistent_state();
        }
    }

    /// One node handles one message: its memory changes, its disk catches
    /// up, and only then does its reply leave.
    fn handle(&mut self, envelope: Envelope, events: &mut Vec<Event>) {
        let Envelope { from, to, message } = envelope;
        let reply = match message {
            Message::PreVote(request) => {
                Some(self.on_pre_vote(to, &request, events))
            }
            Message::RequestVote(request) => {
                Some(self.on_request_vote(to, &request, events))
            }
            Message::AppendEntries { term, leader, log } => {
                Some(self.on_append_entries(to, term, leader, &log, events))
            }
            Message::PreVoteReply { term, granted } => {
                self.on_pre_vote_reply(to, from, term, granted, events);
                None
            }
            Message::VoteReply { term, granted } => {
                self.on_vote_reply(to, from, term, granted, events);
                None
            }
            Message::AppendReply { term } => {
                let was = self.nodes[to].role;
                self.nodes[to].handle_append_reply(term);
                self.note_role_change(to, was, events);
                None
            }
        };
        self.persist(to);
        if let Some(reply) = reply {
            self.send(to, from, reply);
        }
    }
    // ANCHOR_END: handle

    fn on_request_vote(
        &mut self,
        to: NodeId,
        request: &RequestVote,
        events: &mut Vec<Event>,
    ) -> Message {
        let was = self.nodes[to].role;
        let restrict = self.config.election_restriction;
        let verdict = self.nodes[to].handle_request_vote(request, restrict);
        self.note_role_change(to, was, events);
        match verdict {
            Ok(()) => {
                // Granting a vote resets the timer (Figure 2, followers).
                self.reset_election_timer(to);
                events.push(Event::VoteGranted {
                    voter: to,
                    candidate: request.candidate,
                    term: request.term,
                });
            }
            Err(refusal) => events.push(refused(to, request, refusal, false)),
        }
        let term = self.nodes[to].current_term;
        let granted = verdict.is_ok();
        Message::VoteReply { term, granted }
    }

    fn on_append_entries(
        &mut self,
        to: NodeId,
        term: Term,
        leader: NodeId,
        log: &[Term],
        events: &mut Vec<Event>,
    ) -> Message {
        let was = self.nodes[to].role;
        let now = self.now;
        let node = &mut self.nodes[to];
        let accepted = node.handle_append_entries(term, leader, log, now);
        self.note_role_change(to, was, events);
        if accepted {
            self.reset_election_timer(to);
        }
        let term = self.nodes[to].current_term;
        Message::AppendReply { term }
    }

    fn on_pre_vote(
        &mut self,
        to: NodeId,
        request: &RequestVote,
        events: &mut Vec<Event>,
    ) -> Message {
        let quiet = *self.config.election_timeout.start();
        let restrict = self.config.election_restriction;
        let node = &self.nodes[to];
        let verdict = node.handle_pre_vote(request, self.now, quiet, restrict);
        // A yes names the term it is for; a no carries the voter's term.
        let term = match verdict {
            Ok(()) => request.term,
            Err(refusal) => {
                events.push(refused(to, request, refusal, true));
                node.current_term
            }
        };
        let granted = verdict.is_ok();
        Message::PreVoteReply { term, granted }
    }

    fn on_pre_vote_reply(
        &mut self,
        to: NodeId,
        from: NodeId,
        term: Term,
        granted: bool,
        events: &mut Vec<Event>,
    ) {
        let was = self.nodes[to].role;
        let majority = self.majority();
        let node = &mut self.nodes[to];
        let won = node.handle_pre_vote_reply(from, term, granted, majority);
        self.note_role_change(to, was, events);
        if won {
            self.run_for_election(to, events);
        }
    }

    fn on_vote_reply(
        &mut self,
        to: NodeId,
        from: NodeId,
        term: Term,
        granted: bool,
        events: &mut Vec<Event>,
    ) {
        let was = self.nodes[to].role;
        let majority = self.majority();
        let node = &mut self.nodes[to];
        let won = node.handle_vote_reply(from, term, granted, majority);
        self.note_role_change(to, was, events);
        if won {
            self.announce_leader(to, events);
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
        if !self.config.pre_vote {
            return self.run_for_election(id, events);
        }
        self.reset_election_timer(id); // if this round fails, try again
        let request = self.nodes[id].start_pre_vote();
        events.push(Event::PreVoteStarted {
            node: id,
            term: request.term,
            last_log: request.last_log,
        });
        if self.nodes[id].votes.len() >= self.majority() {
            self.run_for_election(id, events); // a one-node cluster
        } else {
            self.broadcast(id, &Message::PreVote(request));
        }
    }

    fn run_for_election(&mut self, id: NodeId, events: &mut Vec<Event>) {
        // A fresh random timeout: if this election splits the votes, the
        // next one starts at a different moment on each node.
        self.reset_election_timer(id);
        let request = self.nodes[id].start_election(self.now);
        events.push(Event::ElectionStarted {
            node: id,
            term: request.term,
            last_log: request.last_log,
        });
        let majority = self.majority();
        let won = self.nodes[id].try_win(majority); // a one-node cluster
        self.persist(id); // the new term and our own vote, before asking
        self.broadcast(id, &Message::RequestVote(request));
        if won {
            self.announce_leader(id, events);
        }
    }
    // ANCHOR_END: timers
}

fn refused(
    voter: NodeId,
    request: &RequestVote,
    refusal: Refusal,
    pre_vote: bool,
) -> Event {
    Event::VoteRefused {
        voter,
        candidate: request.candidate,
        term: request.term,
        candidate_log: request.last_log,
        refusal,
        pre_vote,
    }
}

/// A safety property broken, as the `Checker` saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Election Safety: two leaders in one term.
    TwoLeaders {
        term: Term,
        first: NodeId,
        second: NodeId,
    },
    /// One node voted for two candidates in one term.
    DoubleVote {
        voter: NodeId,
        term: Term,
        first: NodeId,
        second: NodeId,
    },
    /// A node won a term without votes from a majority cast in that term.
    NoMajority {
        leader: NodeId,
        term: Term,
        voters: Vec<NodeId>,
    },
    /// Leader Completeness: a leader lacks a committed entry.
    LostCommittedEntry {
        leader: NodeId,
        term: Term,
        index: usize,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::TwoLeaders {
                term,
                first,
                second,
            } => {
                write!(f, "term {term} has two leaders, n{first} and n{second}")
            }
            Violation::DoubleVote {
                voter,
                term,
                first,
                second,
            } => write!(
                f,
                "n{voter} voted for n{first} and n{second} in term {term}"
            ),
            Violation::NoMajority {
                leader,
                term,
                voters,
            } => write!(
                f,
                "n{leader} leads term {term} with votes from {{{}}} only",
                names(voters)
            ),
            Violation::LostCommittedEntry {
                leader,
                term,
                index,
            } => write!(
                f,
                "n{leader} leads term {term} without committed entry {index}"
            ),
        }
    }
}

// ANCHOR: checker
/// Watches a run from outside the nodes and records every broken safety
/// property. Its memory is its own: a node that crashes and forgets a vote
/// cannot make the checker forget it.
pub struct Checker {
    majority: usize,
    /// (term, voter) -> candidate, from the votes seen being cast.
    votes: BTreeMap<(Term, NodeId), NodeId>,
    leaders: BTreeMap<Term, NodeId>,
    /// The longest committed log prefix, and (term, length) for each time
    /// it grew: a leader of a later term must hold that prefix.
    committed: Vec<Term>,
    commits: Vec<(Term, usize)>,
    violations: Vec<(Tick, Violation)>,
}

impl Checker {
    /// Call after every tick with the events that the tick returned.
    pub fn check(&mut self, sim: &Simulation, events: &[Event]) {
        let tick = sim.now().saturating_sub(1);
        for event in events {
            match *event {
                Event::ElectionStarted { node, term, .. } => {
                    self.vote(tick, term, node, node)
                }
                Event::VoteGranted {
                    voter,
                    candidate,
                    term,
                } => self.vote(tick, term, voter, candidate),
                Event::LeaderElected { node, term, .. } => {
                    self.leader(tick, term, node);
                    self.quorum(tick, term, node);
                }
                _ => {}
            }
        }
        for node in sim.nodes().iter().filter(|n| n.role() == Role::Leader) {
            self.leader(tick, node.current_term(), node.id());
            self.completeness(tick, node);
            self.track_commit(sim, node);
        }
    }
    // ANCHOR_END: checker

    pub fn new(sim: &Simulation) -> Self {
        let mut checker = Checker {
            majority: sim.nodes().len() / 2 + 1,
            votes: BTreeMap::new(),
            leaders: BTreeMap::new(),
            committed: Vec::new(),
            commits: Vec::new(),
            violations: Vec::new(),
        };
        checker.initial_commit(sim);
        checker
    }

    pub fn violations(&self) -> &[(Tick, Violation)] {
        &self.violations
    }
    /// Terms that had a leader.
    pub fn terms_with_leader(&self) -> usize {
        self.leaders.len()
    }
    /// Votes cast, candidates' own votes included.
    pub fn votes_cast(&self) -> usize {
        self.votes.len()
    }
    /// Entries known to be committed.
    pub fn committed(&self) -> &[Term] {
        &self.committed
    }

    fn report(&mut self, tick: Tick, violation: Violation) {
        if !self.violations.iter().any(|(_, v)| *v == violation) {
            self.violations.push((tick, violation));
        }
    }

    fn vote(&mut self, tick: Tick, term: Term, voter: NodeId, for_: NodeId) {
        let first = *self.votes.entry((term, voter)).or_insert(for_);
        if first != for_ {
            let second = for_;
            let v = Violation::DoubleVote {
                voter,
                term,
                first,
                second,
            };
            self.report(tick, v);
        }
    }

    fn leader(&mut self, tick: Tick, term: Term, node: NodeId) {
        let first = *self.leaders.entry(term).or_insert(node);
        if first != node {
            let v = Violation::TwoLeaders {
                term,
                first,
                second: node,
            };
            self.report(tick, v);
        }
    }

    /// The winner's votes, counted from the votes cast in its term.
    fn quorum(&mut self, tick: Tick, term: Term, leader: NodeId) {
        let voters: Vec<NodeId> = (self.votes.range((term, 0)..=(term, !0)))
            .filter(|&(_, &candidate)| candidate == leader)
            .map(|(&(_, voter), _)| voter)
            .collect();
        if voters.len() < self.majority {
            let v = Violation::NoMajority {
                leader,
                term,
                voters,
            };
            self.report(tick, v);
        }
    }

    /// Leader Completeness: entries committed in terms before the leader's
    /// own are in its log.
    fn completeness(&mut self, tick: Tick, leader: &Node) {
        let term = leader.current_term();
        let Some(&(_, needed)) = self.commits.iter().rfind(|(t, _)| *t < term)
        else {
            return;
        };
        let log = leader.log();
        let missing =
            (0..needed).find(|&i| log.get(i) != Some(&self.committed[i]));
        if let Some(i) = missing {
            let v = Violation::LostCommittedEntry {
                leader: leader.id(),
                term,
                index: i + 1,
            };
            self.report(tick, v);
        }
    }

    /// §5.4.2: an entry of the leader's own term, stored on the disks of a
    /// majority, is committed, and so is everything before it.
    fn track_commit(&mut self, sim: &Simulation, leader: &Node) {
        let (term, log) = (leader.current_term(), leader.log());
        let index = log.len();
        if index <= self.committed.len() || log.last() != Some(&term) {
            return;
        }
        let stored = (0..sim.nodes().len())
            .filter(|&id| sim.disk(id).log.get(index - 1) == Some(&term))
            .count();
        if stored >= self.majority {
            self.committed = log.to_vec();
            self.commits.push((term, index));
        }
    }

    /// The preset logs' history: entries of the latest term that a majority
    /// holds count as committed by that term's leader, with all before them.
    fn initial_commit(&mut self, sim: &Simulation) {
        let logs: Vec<&[Term]> = sim.nodes().iter().map(Node::log).collect();
        let Some(&latest) = logs.iter().filter_map(|l| l.last()).max() else {
            return;
        };
        for index in (1..=logs.iter().map(|l| l.len()).max().unwrap_or(0)).rev()
        {
            let holders: Vec<&&[Term]> = logs
                .iter()
                .filter(|l| l.get(index - 1) == Some(&latest))
                .collect();
            if holders.len() >= self.majority {
                self.committed = holders[0][..index].to_vec();
                self.commits.push((latest, index));
                return;
            }
        }
    }
}

fn print_events(sim: &mut Simulation, checker: &mut Checker) {
    let tick = sim.now();
    let events = sim.tick();
    checker.check(sim, &events);
    for event in &events {
        // Granted votes show up in the winner's list; skip them here.
        if !matches!(event, Event::VoteGranted { .. }) {
            println!("t={tick:<5} {event}");
        }
    }
}

fn run_for(sim: &mut Simulation, checker: &mut Checker, ticks: Tick) {
    for _ in 0..ticks {
        print_events(sim, checker);
    }
}

/// Runs until every running node follows one leader in the leader's term,
/// printing every event; an error after `limit` ticks.
fn run_until_agreed(
    sim: &mut Simulation,
    checker: &mut Checker,
    limit: Tick,
) -> Result<(NodeId, Term), String> {
    for _ in 0..limit {
        print_events(sim, checker);
        if let Some(found) = agreed_leader(sim) {
            return Ok(found);
        }
    }
    Err(format!("no agreed leader by tick {}", sim.now()))
}

fn agreed_leader(sim: &Simulation) -> Option<(NodeId, Term)> {
    let (leader, term) = sim.stable_leader()?;
    let all_follow =
        sim.nodes().iter().filter(|n| sim.is_up(n.id())).all(|n| {
            n.current_term() == term
                && n.known_leader() == Some(leader)
                && (n.id() == leader || n.role() == Role::Follower)
        });
    all_follow.then_some((leader, term))
}

fn describe(config: &Config) -> String {
    format!(
        "{} nodes, seed {}, Pre-Vote {}: timeouts {:?} ticks, heartbeat \
         every {}, delay {:?}, {}% loss",
        config.nodes,
        config.seed,
        if config.pre_vote { "on" } else { "off" },
        config.election_timeout,
        config.heartbeat_interval,
        config.delay,
        config.faults.drop * 100.0
    )
}

fn print_nodes(sim: &Simulation) {
    for node in sim.nodes() {
        println!(
            "   n{}: {:<9} term {} log {:?}",
            node.id(),
            node.role().to_string(),
            node.current_term(),
            node.log()
        );
    }
}

fn print_checker(sim: &Simulation, checker: &Checker) {
    for (tick, violation) in checker.violations() {
        println!("checker: t={tick}: {violation}");
    }
    println!(
        "checker: {} violations in {} ticks ({} votes cast, {} terms with \
         a leader)",
        checker.violations().len(),
        sim.now(),
        checker.votes_cast(),
        checker.terms_with_leader()
    );
}

// ANCHOR: main
fn main() -> Result<(), Box<dyn Error>> {
    let mut config = Config::new(5, SEED);
    // n4 was down while entry 2 (term 1) was committed on the other four.
    let (good, stale) = (vec![1, 1], vec![1]);
    config.initial_logs =
        vec![good.clone(), good.clone(), good.clone(), good, stale];
    config.faults.drop = 0.01;
    config.pre_vote = true;
    println!("{}", describe(&config));
    let mut sim = Simulation::new(config)?;
    let mut checker = Checker::new(&sim);
    let sim = &mut sim;
    let checker = &mut checker;

    let (leader, term) = run_until_agreed(sim, checker, 3_000)?;
    let buddy = (leader + 1) % 5;
    println!("-- n{leader} leads term {term}; cut it and n{buddy} off");
    sim.isolate(&[leader, buddy], 800)?;
    run_for(sim, checker, 800);

    let (leader, term) = run_until_agreed(sim, checker, 3_000)?;
    let loner = (leader + 2) % 5;
    println!("-- n{leader} leads term {term}; cut n{loner} off alone");
    sim.isolate(&[loner], 800)?;
    run_for(sim, checker, 800);

    let (leader, term) = run_until_agreed(sim, checker, 3_000)?;
    println!("-- n{loner} is back and n{leader} still leads term {term}");
    // Crash a node that voted for the leader: its vote is on its disk.
    let voted = |n: &&Node| n.id() != leader && n.voted_for() == Some(leader);
    let down = sim.nodes().iter().find(voted).ok_or("no voter")?.id();
    let at = sim.now();
    let restart_at = Some(at + 100);
    sim.add_crash(Crash {
        node: down,
        at,
        restart_at,
    })?;
    run_for(sim, checker, 200);

    let (leader, term) = run_until_agreed(sim, checker, 3_000)?;
    let now = sim.now();
    println!("-- t={now}: every node follows n{leader} in term {term}");
    print_nodes(sim);
    print_checker(sim, checker);
    Ok(())
}
// ANCHOR_END: main

#[cfg(test)]
mod tests;

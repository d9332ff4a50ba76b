use super::*;
use proptest::prelude::*;

// ---- the RequestVote handler, rule by rule (Figure 2) ----

fn pos(last_term: Term, last_index: u64) -> LogPosition {
    LogPosition {
        last_term,
        last_index,
    }
}

fn request(
    term: Term,
    candidate: NodeId,
    last_log: LogPosition,
) -> RequestVote {
    RequestVote {
        term,
        candidate,
        last_log,
    }
}

#[test]
fn a_stale_term_is_refused_and_the_reply_carries_the_newer_term() {
    let mut voter = Node::new(1, 5, vec![1, 2]);
    let verdict = voter.handle_request_vote(&request(4, 0, pos(9, 9)), true);
    assert_eq!(verdict, Err(Refusal::StaleTerm { voter_term: 5 }));
    assert_eq!(voter.current_term(), 5);
    assert_eq!(voter.voted_for(), None);
}

#[test]
fn a_higher_term_makes_a_leader_step_down_then_vote() {
    let mut voter = Node::new(1, 3, vec![1, 3]);
    voter.role = Role::Leader;
    voter.voted_for = Some(1);
    let verdict = voter.handle_request_vote(&request(4, 0, pos(3, 2)), true);
    assert_eq!(verdict, Ok(()));
    assert_eq!(voter.role(), Role::Follower);
    assert_eq!(voter.current_term(), 4);
    assert_eq!(voter.voted_for(), Some(0));
}

#[test]
fn a_higher_term_is_adopted_even_when_the_vote_is_refused() {
    let mut voter = Node::new(1, 3, vec![1, 3]);
    voter.role = Role::Candidate;
    let verdict = voter.handle_request_vote(&request(7, 0, pos(1, 5)), true);
    assert_eq!(
        verdict,
        Err(Refusal::LogBehind {
            voter_log: pos(3, 2)
        })
    );
    assert_eq!((voter.role(), voter.current_term()), (Role::Follower, 7));
    assert_eq!(voter.voted_for(), None, "a refusal casts no vote");
}

#[test]
fn one_vote_per_term_but_a_retry_from_the_same_candidate_is_granted() {
    let mut voter = Node::new(2, 1, vec![1]);
    assert_eq!(
        voter.handle_request_vote(&request(2, 0, pos(1, 1)), true),
        Ok(())
    );
    assert_eq!(
        voter.handle_request_vote(&request(2, 1, pos(1, 1)), true),
        Err(Refusal::AlreadyVoted { for_node: 0 })
    );
    assert_eq!(
        voter.handle_request_vote(&request(2, 0, pos(1, 1)), true),
        Ok(())
    );
    // A new term frees the vote.
    assert_eq!(
        voter.handle_request_vote(&request(3, 1, pos(1, 1)), true),
        Ok(())
    );
    assert_eq!(voter.voted_for(), Some(1));
}

#[test]
fn a_candidate_has_voted_for_itself() {
    let mut node = Node::new(0, 1, vec![1]);
    node.start_election(0);
    assert_eq!(
        node.handle_request_vote(&request(2, 1, pos(1, 1)), true),
        Err(Refusal::AlreadyVoted { for_node: 0 })
    );
}

#[test]
fn up_to_date_compares_last_term_before_length() {
    // Later last term wins even with a shorter log.
    assert!(pos(3, 2).is_at_least_as_up_to_date_as(pos(2, 9)));
    assert!(!pos(2, 9).is_at_least_as_up_to_date_as(pos(3, 2)));
    // Same last term: the longer log wins; equal logs tie (both true).
    assert!(pos(2, 5).is_at_least_as_up_to_date_as(pos(2, 4)));
    assert!(!pos(2, 4).is_at_least_as_up_to_date_as(pos(2, 5)));
    assert!(pos(2, 4).is_at_least_as_up_to_date_as(pos(2, 4)));
    assert!(pos(0, 0).is_at_least_as_up_to_date_as(LogPosition::of(&[])));
}

#[test]
fn the_voter_refuses_a_candidate_whose_log_is_behind() {
    let mut voter = Node::new(1, 2, vec![1, 1, 2]);
    let shorter = voter.handle_request_vote(&request(3, 0, pos(2, 2)), true);
    assert_eq!(
        shorter,
        Err(Refusal::LogBehind {
            voter_log: pos(2, 3)
        })
    );
    let older = voter.handle_request_vote(&request(3, 0, pos(1, 7)), true);
    assert_eq!(
        older,
        Err(Refusal::LogBehind {
            voter_log: pos(2, 3)
        })
    );
    // Without §5.4.1 the same request is granted.
    assert_eq!(
        voter.handle_request_vote(&request(3, 0, pos(1, 7)), false),
        Ok(())
    );
}

#[test]
fn votes_count_once_and_only_for_the_current_term() {
    let mut node = Node::new(0, 1, vec![1]);
    node.start_election(0); // term 2, votes {0}
    assert!(!node.handle_vote_reply(1, 2, true, 3));
    assert!(
        !node.handle_vote_reply(1, 2, true, 3),
        "a duplicate is not a second vote"
    );
    assert!(
        !node.handle_vote_reply(2, 1, true, 3),
        "a reply from an older term"
    );
    assert!(!node.handle_vote_reply(3, 2, false, 3), "a refusal");
    assert_eq!(node.role(), Role::Candidate);
    assert!(node.handle_vote_reply(4, 2, true, 3));
    assert_eq!(node.role(), Role::Leader);
    assert_eq!(
        node.log(),
        &[1, 2],
        "the new leader appends its no-op entry"
    );
}

#[test]
fn a_vote_reply_with_a_higher_term_ends_the_candidacy() {
    let mut node = Node::new(0, 1, vec![1]);
    node.start_election(0);
    assert!(!node.handle_vote_reply(1, 5, false, 2));
    assert_eq!((node.role(), node.current_term()), (Role::Follower, 5));
}

#[test]
fn a_candidate_concedes_to_a_leader_of_its_own_term() {
    let mut node = Node::new(0, 1, vec![1]);
    node.start_election(0); // term 2
    assert!(node.handle_append_entries(2, 3, &[1, 2]));
    assert_eq!(node.role(), Role::Follower);
    assert_eq!((node.current_term(), node.known_leader()), (2, Some(3)));
    assert_eq!(node.voted_for(), Some(0), "the vote in term 2 stays cast");
    assert_eq!(node.log(), &[1, 2]);
}

#[test]
fn a_heartbeat_from_an_older_term_is_rejected() {
    let mut node = Node::new(0, 1, vec![1]);
    node.start_election(0); // term 2
    assert!(!node.handle_append_entries(1, 3, &[]));
    assert_eq!((node.role(), node.log()), (Role::Candidate, &[1][..]));
}

#[test]
fn a_stale_leader_steps_down_on_a_newer_term_in_any_message() {
    let mut old = Node::new(0, 1, vec![1]);
    old.start_election(0);
    assert!(old.handle_vote_reply(1, 2, true, 2));
    old.handle_append_reply(3);
    assert_eq!((old.role(), old.current_term()), (Role::Follower, 3));

    let mut other = Node::new(1, 1, vec![1]);
    other.start_election(0);
    assert!(other.handle_vote_reply(0, 2, true, 2));
    assert!(other.handle_append_entries(4, 2, &[1, 2, 4]));
    assert_eq!(
        (other.role(), other.known_leader()),
        (Role::Follower, Some(2))
    );
}

// ---- configuration errors ----

#[test]
fn bad_configuration_is_an_error_value() {
    let cases: Vec<(Config, ConfigError)> = vec![
        (Config::new(0, 1), ConfigError::NoNodes),
        (
            Config {
                election_timeout: RangeInclusive::new(300, 150),
                ..Config::new(3, 1)
            },
            ConfigError::EmptyTimeoutRange { min: 300, max: 150 },
        ),
        (
            Config {
                heartbeat_interval: 150,
                ..Config::new(3, 1)
            },
            ConfigError::HeartbeatNotBelowTimeout {
                heartbeat: 150,
                min_timeout: 150,
            },
        ),
        (
            Config {
                heartbeat_interval: 0,
                ..Config::new(3, 1)
            },
            ConfigError::HeartbeatNotBelowTimeout {
                heartbeat: 0,
                min_timeout: 150,
            },
        ),
        (
            Config {
                delay: RangeInclusive::new(5, 4),
                ..Config::new(3, 1)
            },
            ConfigError::EmptyDelayRange { min: 5, max: 4 },
        ),
        (
            Config {
                delay: 0..=4,
                ..Config::new(3, 1)
            },
            ConfigError::ZeroDelay,
        ),
        (
            Config {
                drop_probability: -0.1,
                ..Config::new(3, 1)
            },
            ConfigError::DropProbability(-0.1),
        ),
        (
            Config {
                drop_probability: 1.5,
                ..Config::new(3, 1)
            },
            ConfigError::DropProbability(1.5),
        ),
        (
            Config {
                initial_logs: vec![vec![1]],
                ..Config::new(3, 1)
            },
            ConfigError::LogCount { nodes: 3, logs: 1 },
        ),
        (
            Config {
                initial_logs: vec![vec![1], vec![2, 1], vec![]],
                ..Config::new(3, 1)
            },
            ConfigError::InvalidLog { node: 1 },
        ),
        (
            Config {
                initial_logs: vec![vec![0], vec![], vec![]],
                ..Config::new(3, 1)
            },
            ConfigError::InvalidLog { node: 0 },
        ),
        (
            Config {
                partitions: vec![Partition {
                    side: vec![3],
                    from: 0,
                    heal_at: None,
                }],
                ..Config::new(3, 1)
            },
            ConfigError::UnknownNode { node: 3, nodes: 3 },
        ),
        (
            Config {
                partitions: vec![Partition {
                    side: vec![0],
                    from: 10,
                    heal_at: Some(10),
                }],
                ..Config::new(3, 1)
            },
            ConfigError::PartitionHealsBeforeStart {
                from: 10,
                heal_at: 10,
            },
        ),
    ];
    for (config, expected) in cases {
        let got = Simulation::new(config.clone()).err();
        assert_eq!(got.as_ref(), Some(&expected), "{config:?}");
        assert!(!expected.to_string().is_empty());
    }
    let nan = Simulation::new(Config {
        drop_probability: f64::NAN,
        ..Config::new(3, 1)
    });
    assert!(matches!(nan, Err(ConfigError::DropProbability(p)) if p.is_nan()));
    // The edges of the valid ranges are accepted.
    for p in [0.0, 1.0] {
        assert!(
            Simulation::new(Config {
                drop_probability: p,
                ..Config::new(3, 1)
            })
            .is_ok()
        );
    }
}

#[test]
fn partitions_added_at_run_time_are_checked() {
    let mut sim = Simulation::new(Config::new(3, 1)).expect("valid config");
    for _ in 0..5 {
        sim.tick();
    }
    let past = Partition {
        side: vec![0],
        from: 2,
        heal_at: None,
    };
    assert_eq!(
        sim.add_partition(past),
        Err(ConfigError::PartitionInPast { from: 2, now: 5 })
    );
    assert_eq!(
        sim.isolate(&[7], 10),
        Err(ConfigError::UnknownNode { node: 7, nodes: 3 })
    );
    assert_eq!(sim.isolate(&[0], 10), Ok(15));
}

// ---- the PRNG ----

#[test]
fn splitmix64_matches_the_reference_outputs_for_seed_zero() {
    let mut rng = SplitMix64::new(0);
    assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
}

#[test]
fn in_range_stays_in_range_and_reaches_both_ends() {
    let mut rng = SplitMix64::new(9);
    let draws: Vec<u64> =
        (0..2_000).map(|_| rng.in_range(&(150..=300))).collect();
    assert!(draws.iter().all(|d| (150..=300).contains(d)));
    assert!(draws.contains(&150) && draws.contains(&300));
    assert_eq!(rng.in_range(&(7..=7)), 7);
    assert!(!(0..100).any(|_| rng.chance(0.0)));
    assert!((0..100).all(|_| rng.chance(1.0)));
}

// ---- whole runs over many seeds ----

/// Runs `ticks` ticks and checks Election Safety after every one:
/// at most one node is ever leader of a given term.
fn run_checking_election_safety(
    sim: &mut Simulation,
    ticks: Tick,
    leaders: &mut BTreeMap<Term, NodeId>,
) -> Result<(), String> {
    for _ in 0..ticks {
        sim.tick();
        for node in sim.nodes().iter().filter(|n| n.role() == Role::Leader) {
            let first =
                *leaders.entry(node.current_term()).or_insert(node.id());
            if first != node.id() {
                return Err(format!(
                    "term {}: n{first} and n{} both led (tick {})",
                    node.current_term(),
                    node.id(),
                    sim.now()
                ));
            }
        }
    }
    Ok(())
}

/// A random hostile network for `seed`: 3 or 5 nodes, up to 30% loss,
/// delays up to 40 ticks, and up to three overlapping partitions.
fn hostile_config(seed: u64) -> Config {
    let mut rng = SplitMix64::new(seed ^ 0xA5A5_A5A5);
    let nodes = if rng.chance(0.5) { 3 } else { 5 };
    let mut config = Config::new(nodes, seed);
    config.drop_probability = rng.in_range(&(0..=30)) as f64 / 100.0;
    config.delay = 1..=rng.in_range(&(1..=40));
    for _ in 0..rng.in_range(&(0..=3)) {
        let side: Vec<NodeId> =
            (0..nodes).filter(|_| rng.chance(0.4)).collect();
        let from = rng.in_range(&(0..=1_500));
        let heal_at =
            rng.chance(0.7).then(|| from + rng.in_range(&(1..=1_000)));
        config.partitions.push(Partition {
            side,
            from,
            heal_at,
        });
    }
    config
}

#[test]
fn election_safety_holds_on_thousands_of_hostile_schedules() {
    let mut terms_with_leaders = 0;
    for seed in 0..1_500 {
        let mut sim =
            Simulation::new(hostile_config(seed)).expect("valid config");
        let mut leaders = BTreeMap::new();
        if let Err(violation) =
            run_checking_election_safety(&mut sim, 2_000, &mut leaders)
        {
            panic!("seed {seed}: {violation}");
        }
        terms_with_leaders += leaders.len();
    }
    // The check must have had leaders to check.
    assert!(
        terms_with_leaders > 1_500,
        "only {terms_with_leaders} leaders"
    );
}

/// After the last partition heals, with 1% loss, a leader that a
/// majority follows appears within this many ticks: five of the longest
/// election timeouts.
const LIVENESS_BOUND: Tick = 1_500;

#[test]
fn a_connected_majority_elects_a_stable_leader_within_the_bound() {
    let mut worst = 0;
    for seed in 0..1_000 {
        let mut config = Config::new(if seed % 2 == 0 { 5 } else { 3 }, seed);
        config.drop_probability = 0.01;
        let mut rng = SplitMix64::new(seed.wrapping_mul(31));
        // Chaos until tick 1500: random partitions, all healed by then.
        for _ in 0..3 {
            let side: Vec<NodeId> =
                (0..config.nodes).filter(|_| rng.chance(0.5)).collect();
            let from = rng.in_range(&(0..=1_000));
            let heal_at = (from + rng.in_range(&(1..=500))).min(1_500);
            config.partitions.push(Partition {
                side,
                from,
                heal_at: Some(heal_at),
            });
        }
        let mut sim = Simulation::new(config).expect("valid config");
        while sim.now() < 1_500 {
            sim.tick();
        }
        let waited = (1..=LIVENESS_BOUND).find(|_| {
            sim.tick();
            sim.stable_leader().is_some()
        });
        match waited {
            Some(ticks) => worst = worst.max(ticks),
            None => panic!(
                "seed {seed}: no stable leader within {LIVENESS_BOUND} ticks"
            ),
        }
    }
    // Elections do take time: the bound is not vacuous.
    assert!(worst >= 150, "worst wait {worst}");
}

/// n0 and n1 missed entry 2 (term 2), which n2, n3 and n4 hold: the entry
/// is committed, and Leader Completeness says every leader must have it.
fn stale_minority_config(seed: u64, election_restriction: bool) -> Config {
    let mut config = hostile_config(seed);
    config.nodes = 5;
    config
        .partitions
        .retain(|p| p.side.iter().all(|&id| id < 5));
    config.initial_logs =
        vec![vec![1], vec![1], vec![1, 2], vec![1, 2], vec![1, 2]];
    config.election_restriction = election_restriction;
    config
}

/// Seeds in which some leader lacked the committed entry, and seeds in
/// which a stale candidate was refused for its log.
fn lost_entries_and_log_refusals(
    election_restriction: bool,
) -> (Vec<u64>, usize) {
    let mut lost = Vec::new();
    let mut refused = 0;
    for seed in 0..800 {
        let config = stale_minority_config(seed, election_restriction);
        let mut sim = Simulation::new(config).expect("valid config");
        let mut saw_refusal = false;
        for _ in 0..1_500 {
            for event in sim.tick() {
                match event {
                    Event::LeaderElected { node, .. }
                        if sim.nodes()[node].log().get(1) != Some(&2) =>
                    {
                        lost.push(seed);
                    }
                    Event::VoteRefused {
                        candidate,
                        refusal: Refusal::LogBehind { .. },
                        ..
                    } if candidate < 2 => saw_refusal = true,
                    _ => {}
                }
            }
        }
        refused += usize::from(saw_refusal);
    }
    lost.dedup();
    (lost, refused)
}

#[test]
fn a_candidate_with_a_stale_log_never_wins_against_up_to_date_voters() {
    let (lost, refused) = lost_entries_and_log_refusals(true);
    assert_eq!(
        lost,
        Vec::<u64>::new(),
        "a leader lacked the committed entry"
    );
    // The check was exercised: stale nodes ran and were turned down.
    assert!(
        refused >= 200,
        "stale candidates refused in only {refused} seeds"
    );
}

#[test]
fn without_the_election_restriction_committed_entries_are_lost() {
    let (lost, _) = lost_entries_and_log_refusals(false);
    assert!(lost.len() >= 50, "only {} seeds lost the entry", lost.len());
}

#[test]
fn a_minority_partition_never_elects_a_leader() {
    let mut minority_elections = 0;
    for seed in 0..1_500 {
        let mut config = hostile_config(seed);
        config.nodes = 5;
        config.initial_logs.clear();
        let mut rng = SplitMix64::new(seed ^ 0x5EED);
        // Two of five nodes are cut off from a random tick on, for good.
        let first = rng.in_range(&(0..=4)) as NodeId;
        let minority =
            vec![first, (first + 1 + rng.in_range(&(0..=3)) as NodeId) % 5];
        let cut_at = rng.in_range(&(0..=1_000));
        config.partitions = vec![Partition {
            side: minority.clone(),
            from: cut_at,
            heal_at: None,
        }];
        let mut sim = Simulation::new(config).expect("valid config");
        for _ in 0..2_500 {
            for event in sim.tick() {
                match event {
                    Event::LeaderElected { node, term, .. }
                        if minority.contains(&node) =>
                    {
                        // Only a candidacy begun before the cut can win.
                        let began = sim.nodes()[node].election_started_at();
                        assert!(
                            began < cut_at,
                            "seed {seed}: n{node} won term {term} begun at {began}, cut at {cut_at}"
                        );
                    }
                    Event::ElectionStarted { node, .. }
                        if minority.contains(&node) && sim.now() > cut_at =>
                    {
                        minority_elections += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(
        minority_elections > 1_500,
        "minority ran only {minority_elections} elections"
    );
}

#[test]
fn a_single_node_cluster_elects_itself() {
    let mut sim = Simulation::new(Config::new(1, 3)).expect("valid config");
    for _ in 0..301 {
        sim.tick();
    }
    assert_eq!(sim.stable_leader(), Some((0, 1)));
}

#[test]
fn a_seed_fixes_the_whole_run() {
    let trace = |seed| {
        let mut sim =
            Simulation::new(hostile_config(seed)).expect("valid config");
        (0..1_500).flat_map(|_| sim.tick()).collect::<Vec<Event>>()
    };
    assert_eq!(trace(42), trace(42));
    assert_ne!(trace(42), trace(43));
}

proptest! {
    /// votedFor: whatever requests arrive, in whatever order, a voter
    /// grants at most one candidate per term.
    #[test]
    fn a_voter_grants_at_most_one_candidate_per_term(
        requests in prop::collection::vec((1u64..6, 0usize..4, 0u64..4, 0u64..4), 0..40),
        restrict in any::<bool>(),
    ) {
        let mut voter = Node::new(9, 1, vec![1, 2]);
        let mut granted: BTreeMap<Term, BTreeSet<NodeId>> = BTreeMap::new();
        for (term, candidate, last_term, last_index) in requests {
            let req = request(term, candidate, pos(last_term, last_index));
            if voter.handle_request_vote(&req, restrict).is_ok() {
                granted.entry(term).or_default().insert(candidate);
            }
        }
        for (term, candidates) in granted {
            prop_assert!(candidates.len() <= 1, "term {}: {:?}", term, candidates);
        }
    }

    /// The §5.4.1 comparison against a literal reading of the paper.
    #[test]
    fn up_to_date_matches_the_papers_two_rules(
        a in prop::collection::vec(1u64..4, 0..6),
        b in prop::collection::vec(1u64..4, 0..6),
    ) {
        let (mut a, mut b) = (a, b);
        a.sort_unstable();
        b.sort_unstable();
        let (la, lb) = (a.last().copied().unwrap_or(0), b.last().copied().unwrap_or(0));
        let oracle = if la != lb { la > lb } else { a.len() >= b.len() };
        prop_assert_eq!(
            LogPosition::of(&a).is_at_least_as_up_to_date_as(LogPosition::of(&b)),
            oracle
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Election Safety for arbitrary seeds, beyond the fixed range above.
    #[test]
    fn election_safety_for_arbitrary_seeds(seed in any::<u64>()) {
        let mut sim = Simulation::new(hostile_config(seed)).expect("valid config");
        let mut leaders = BTreeMap::new();
        let result = run_checking_election_safety(&mut sim, 2_000, &mut leaders);
        prop_assert!(result.is_ok(), "{:?}", result);
    }
}
